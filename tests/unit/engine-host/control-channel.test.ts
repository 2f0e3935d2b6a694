// The engine host's control endpoint end to end over a real unix socket: contract
// validation (unknown methods, bad arguments) before an EngineControlService implementation
// is called, replies and AppErrors, the serial stream with history and its end, and newline
// framing that survives split and merged chunks.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineControlService, EngineStatus } from '../../../src-shared/contracts/engine';
import { AppError } from '../../../src-shared/errors';
import { Emitter } from '../../../src-emulator/base/event';
import { EngineHostClient } from '../../../src-emulator/engine-host/control-client';
import { ControlServer, type ControlStream } from '../../../src-emulator/engine-host/control-server';
import { LineDecoder } from '../../../src-emulator/base/line-channel';

describe('LineDecoder', () => {
  it('joins split lines and splits merged ones', () => {
    const d = new LineDecoder(100);
    expect(d.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(d.push(Buffer.from(':2}\n\n{"c":3}\n'))).toEqual(['{"b":2}', '{"c":3}']);
    expect(() => new LineDecoder(4).push(Buffer.from('123456'))).toThrow(/longer than 4 bytes/);
  });
});

const isStream = (a: unknown): boolean => typeof a === 'object' && a !== null && 'hold' in a;

describe('ControlServer + EngineHostClient', () => {
  let dir = '';
  let server: ControlServer;
  let endpoint = '';
  const serial = new Emitter<Uint8Array>();
  const calls: [string, unknown[]][] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-ctl-'));
    endpoint = path.join(dir, 'control.sock');
    calls.length = 0;
    // A stand-in service (no engine): records each call as the server dispatched it.
    const status = { state: 'running' } as unknown as EngineStatus;
    const call =
      <T>(method: string, value: T) =>
      async (...args: unknown[]): Promise<T> => {
        calls.push([method, args.filter((a) => !isStream(a))]);
        return value;
      };
    const service = {
      status: call('status', status),
      stop: call('stop', { state: 'off' as const, forced: false, message: 'off' }),
      pause: async () => {
        throw new AppError('BUSY', 'Cannot pause: VM "x" is saving.');
      },
      resume: call('resume', status),
      reset: async () => {
        throw new Error('kaboom');
      },
      saveState: call('saveState', { state: 'off' as const, forced: false, message: 'saved' }),
      attachIso: call('attachIso', status),
      eject: call('eject', status),
      changeMedium: call('changeMedium', status),
      screenshot: call('screenshot', { width: 1, height: 1, pngBase64: '' }),
      sendKeys: call('sendKeys', undefined),
      sendCombo: call('sendCombo', undefined),
      serialWrite: call('serialWrite', undefined),
      snapshotTake: call('snapshotTake', {
        engine: 'qemu' as const,
        engineVersion: null,
        tag: 't',
        vmstateNode: 'disk0',
        devices: [],
        images: [],
        stateBytes: null,
      }),
      snapshotRestore: call('snapshotRestore', status),
      snapshotDelete: call('snapshotDelete', undefined),
      flattenDisks: call('flattenDisks', undefined),
      setLinkState: call('setLinkState', undefined),
      addPortForward: call('addPortForward', undefined),
      removePortForward: call('removePortForward', undefined),
      serialSubscribe: async ({ history }: { history: boolean }, stream?: ControlStream) => {
        if (!stream) throw new Error('no stream');
        if (history) stream.send(Buffer.from('old output\n'));
        stream.hold(serial.event((d) => stream.send(d)));
        return { subscribed: true as const };
      },
    } satisfies EngineControlService;
    server = new ControlServer(endpoint, service, () => undefined);
    await server.listen();
  });
  afterEach(async () => {
    server.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers calls, validates arguments, and rethrows errors as AppError', async () => {
    const client = await EngineHostClient.connect(endpoint);
    expect(await client.status()).toEqual({ state: 'running' });
    await client.stop({ mode: 'acpi', timeoutMs: 5000 });
    expect(calls.at(-1)).toEqual(['stop', [{ mode: 'acpi', timeoutMs: 5000 }]]);
    await expect(client.pause()).rejects.toMatchObject({ code: 'BUSY', message: 'Cannot pause: VM "x" is saving.' });
    await expect(client.reset()).rejects.toMatchObject({ code: 'INTERNAL', message: 'Internal error: kaboom' });
    await expect(client.call('stop', [{ mode: 'sideways' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.call('format', [])).rejects.toThrow(/Unknown engine control method "format"/);
    await expect(client.call('__proto__', [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.sendCombo([])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(client.call('attachIso', [42])).rejects.toThrow(/Invalid arguments for attachIso/);
    // Refused requests never reached the service.
    expect(calls.map(([m]) => m)).toEqual(['status', 'stop']);
    await client.sendCombo(['ctrl', 'alt', 'delete']);
    expect(calls.at(-1)).toEqual(['sendCombo', [['ctrl', 'alt', 'delete']]]);
    client.dispose();
  });

  it('streams serial output with history, and ends the stream with the final state', async () => {
    const client = await EngineHostClient.connect(endpoint);
    const got: string[] = [];
    const ended = new Promise<string | null>((resolve) => {
      void client.followSerial(true, (d) => got.push(Buffer.from(d).toString()), resolve);
    });
    await new Promise((r) => setTimeout(r, 50));
    serial.fire(Buffer.from('MARU-BOOT-OK\n'));
    await new Promise((r) => setTimeout(r, 50));
    await server.close('off');
    expect(await ended).toBe('off');
    expect(got.join('')).toBe('old output\nMARU-BOOT-OK\n');
    client.dispose();
  });

  it('sends a subscription history after its reply, on the request id', async () => {
    const raw = net.createConnection(endpoint);
    await new Promise((r) => raw.once('connect', r));
    const lines: string[] = [];
    raw.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    raw.write('{"id":7,"method":"serialSubscribe","args":[{"history":true}]}\n');
    await new Promise((r) => setTimeout(r, 100));
    const msgs = lines.map((l) => JSON.parse(l) as { id: number; ok?: boolean; stream?: string; data?: string });
    expect(msgs[0]).toEqual({ id: 7, ok: true, value: { subscribed: true } });
    expect(msgs[1]).toMatchObject({ id: 7, stream: 'serial' });
    expect(Buffer.from(msgs[1]!.data!, 'base64').toString()).toBe('old output\n');
    raw.destroy();
  });

  it('answers requests sent in one chunk and in pieces, and refuses junk', async () => {
    const raw = net.createConnection(endpoint);
    await new Promise((r) => raw.once('connect', r));
    const lines: string[] = [];
    raw.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    raw.write('{"id":1,"method":"status","args":[]}\n{"id":2,"meth');
    raw.write('od":"status","args":[]}\nnot json\n');
    await new Promise((r) => setTimeout(r, 100));
    const msgs = lines.map((l) => JSON.parse(l) as { id: number; ok: boolean; error?: { code: string } });
    expect(msgs.filter((m) => m.ok).map((m) => m.id)).toEqual([1, 2]);
    expect(msgs.find((m) => !m.ok)?.error?.code).toBe('INVALID_ARGUMENT');
    raw.destroy();
  });

  it('says NOT_FOUND when nothing listens', async () => {
    await expect(EngineHostClient.connect(path.join(dir, 'none.sock'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
