// The trial slice of the page's real store (createAppStore): which service calls "Try it on a copy",
// Keep / Discard and a linked clone make, what the details pane shows meanwhile (progress, the
// selection) and the notices afterwards. The control services under it are a plain recording
// object; the services themselves run against real QEMU in tests/e2e/trial.spec.ts.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmListEntry } from '../../../src-shared/contracts/library';
import { AppError } from '../../../src-shared/errors';

const SOURCE = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const TRIAL = '0b9d8c7e-1111-4a4a-8b8b-222233334444';

function entry(id: string, name: string, state: 'off' | 'running'): VmListEntry {
  return { kind: 'ok', id, name, state, os: 'linux64', cpus: 1, memoryMiB: 512 } as unknown as VmListEntry;
}

function details(id: string, name: string, linkedClone?: { sourceId: string; trial: boolean }) {
  return { config: { id, name, linkedClone }, disks: [] };
}

/** A library of one VM and, once tried, its trial; `hold` keeps endTrial open until released. */
function fakeServices() {
  const calls: string[] = [];
  let vms: VmListEntry[] = [entry(SOURCE, 'Web', 'off')];
  let release: (() => void) | null = null;
  let refuse: string | null = null;
  const services = {
    library: {
      list: async () => vms,
      show: async (id: string) => {
        calls.push(`show ${id}`);
        return id === TRIAL ? details(TRIAL, 'Web trial', { sourceId: SOURCE, trial: true }) : details(id, 'Web');
      },
      linkedClone: async (id: string, name: string, job?: JobOptions) => {
        calls.push(`linkedClone ${id} ${name}`);
        job?.onProgress?.({ phase: 'disk', fraction: 1 });
        vms = [...vms, entry(TRIAL, name, 'off')];
        return details(TRIAL, name, { sourceId: id, trial: false });
      },
    },
    snapshots: {
      tryCopy: async (id: string) => {
        calls.push(`tryCopy ${id}`);
        vms = [...vms, entry(TRIAL, 'Web trial', 'running')];
        return { trialId: TRIAL, trialName: 'Web trial', sourceId: id };
      },
      endTrial: async (id: string, options: { keep: boolean }, job?: JobOptions) => {
        calls.push(`endTrial ${id} keep=${options.keep}`);
        job?.onProgress?.({ phase: 'flatten', fraction: 0.4 });
        await new Promise<void>((r) => (release = r));
        if (refuse) throw new AppError('BUSY', refuse);
        if (!options.keep) vms = vms.filter((v) => v.id !== id);
        return { trialId: id, trialName: 'Web trial', outcome: options.keep ? 'kept' : 'discarded' };
      },
    },
  };
  return {
    calls,
    services: services as unknown as ControlServices,
    release: () => release?.(),
    refuseWith: (message: string) => (refuse = message),
  };
}

function storeWithFake() {
  const fake = fakeServices();
  const store = createAppStore({ services: fake.services, session: 'authenticated', loaded: true });
  return { fake, store };
}

/** Lets the awaited calls before the held one run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('trial slice', () => {
  it('"Try it on a copy" makes the trial, and the details pane moves to it', async () => {
    const { fake, store } = storeWithFake();
    await store.getState().refresh();
    await store.getState().select(SOURCE);
    const trial = await store.getState().tryOnCopy(SOURCE);
    expect(trial.trialId).toBe(TRIAL);
    // One tryCopy; the details read afterwards are the trial's.
    expect(fake.calls.filter((c) => !c.startsWith('show'))).toEqual([`tryCopy ${SOURCE}`]);
    expect(fake.calls.at(-1)).toBe(`show ${TRIAL}`);
    expect(store.getState().selectedId).toBe(TRIAL);
    expect(store.getState().vms.map((v) => v.id)).toEqual([SOURCE, TRIAL]);
    expect(store.getState().details?.config.linkedClone).toEqual({ sourceId: SOURCE, trial: true });
  });

  it('Discard shows its progress, refuses a second end meanwhile, then selects the source', async () => {
    const { fake, store } = storeWithFake();
    await store.getState().refresh();
    await store.getState().tryOnCopy(SOURCE);
    const ending = store.getState().endTrial(TRIAL, false);
    await settle();
    expect(store.getState().trialBusy[TRIAL]).toEqual({ op: 'discard', fraction: 0.4 });
    expect(await store.getState().endTrial(TRIAL, true)).toBe(false);
    fake.release();
    expect(await ending).toBe(true);
    expect(fake.calls.filter((c) => c.startsWith('endTrial'))).toEqual([`endTrial ${TRIAL} keep=false`]);
    expect(store.getState().trialBusy).toEqual({});
    expect(store.getState().selectedId).toBe(SOURCE);
    expect(store.getState().vms.map((v) => v.id)).toEqual([SOURCE]);
    expect(store.getState().notices.map((n) => [n.key, n.values])).toEqual([
      ['trial.discarded', { name: 'Web trial' }],
    ]);
  });

  it("Keep leaves the VM selected; a server refusal is an error notice with the server's words", async () => {
    const { fake, store } = storeWithFake();
    await store.getState().refresh();
    await store.getState().tryOnCopy(SOURCE);
    fake.refuseWith('VM "Web trial" is busy; try again.');
    const refused = store.getState().endTrial(TRIAL, true);
    await settle();
    fake.release();
    expect(await refused).toBe(false);
    expect(store.getState().trialBusy).toEqual({});
    expect(store.getState().notices.at(-1)).toMatchObject({
      tone: 'error',
      key: 'errors.server',
      values: { message: 'VM "Web trial" is busy; try again.' },
    });

    fake.refuseWith('');
    const kept = store.getState().endTrial(TRIAL, true);
    await settle();
    fake.release();
    expect(await kept).toBe(true);
    expect(store.getState().selectedId).toBe(TRIAL);
    expect(store.getState().notices.at(-1)).toMatchObject({ tone: 'info', key: 'trial.kept' });
  });

  it('a linked clone is made through library.linkedClone and selected', async () => {
    const { fake, store } = storeWithFake();
    await store.getState().refresh();
    const fractions: number[] = [];
    await store.getState().linkedCloneVm(SOURCE, 'Web linked', { onProgress: (p) => fractions.push(p.fraction) });
    expect(fake.calls).toEqual([`linkedClone ${SOURCE} Web linked`, `show ${TRIAL}`]);
    expect(fractions).toEqual([1]);
    expect(store.getState().selectedId).toBe(TRIAL);
  });
});
