// A front end re-reads the library as soon as pause / resume answers (the web console and the
// desktop do, after the event): the state it reads must already be the new one. A real v86
// VM in a detached engine host, through the same services the front ends call.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';

let home: string;
let host: ControlHost;
let id: string;

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-state-reply-'));
  host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
  id = (await host.services.library.create({ name: 'Pauser', os: 'dos', engine: 'v86', diskGiB: 0 })).vm.config.id;
  await host.services.vm.start(id);
}, 60_000);

afterAll(async () => {
  await host.services.vm.stop(id, { force: true }).catch(() => undefined);
  host.dispose();
  rmSync(home, { recursive: true, force: true });
});

async function listedState(): Promise<string | undefined> {
  const entry = (await host.services.library.list()).find((v) => v.id === id);
  return entry?.kind === 'ok' ? entry.state : entry?.kind;
}

it('the library shows paused / running the moment pause and resume answer', async () => {
  for (let i = 0; i < 15; i++) {
    await host.services.vm.pause(id);
    expect(await listedState()).toBe('paused');
    await host.services.vm.resume(id);
    expect(await listedState()).toBe('running');
  }
}, 60_000);
