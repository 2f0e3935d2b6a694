// QMP framing and the client's protocol logic on a recorded QEMU 7.2 byte stream, replayed
// by a scripted in-memory peer in random chunk sizes; job failures, timeouts, disconnects.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  QmpClient,
  QmpError,
  QmpMessageParser,
  type QmpIncoming,
} from '../../../../src-emulator/engines/qemu/qmp-client';
import { RECORDED_QMP_BYTES, RECORDED_QMP_LINES } from './qmp-recorded';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An in-memory QEMU: sends `greeting` on connect, then answers each request with
 * `respond(request)` (lines), pushed in random-sized chunks.
 */
class FakeQemu {
  readonly requests: Record<string, unknown>[] = [];
  readonly channel: Duplex;
  private readonly random: () => number;
  private buffered = '';
  private readonly outbox: Buffer[] = [];
  private pumping = false;

  constructor(
    greeting: string,
    private readonly respond: (req: Record<string, unknown>) => string[],
    seed = 1,
  ) {
    this.random = rng(seed);
    this.channel = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, cb) => {
        this.buffered += chunk.toString('utf8');
        let nl: number;
        while ((nl = this.buffered.indexOf('\n')) >= 0) {
          const line = this.buffered.slice(0, nl);
          this.buffered = this.buffered.slice(nl + 1);
          const req = JSON.parse(line) as Record<string, unknown>;
          this.requests.push(req);
          this.send(this.respond(req));
        }
        cb();
      },
    });
    setImmediate(() => this.send([greeting]));
  }

  /** Queues lines; one pump pushes them in order, in random-sized chunks. */
  send(lines: string[]): void {
    if (lines.length === 0) return;
    const bytes = Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
    for (let i = 0; i < bytes.length;) {
      const n = 1 + Math.floor(this.random() * 40);
      this.outbox.push(bytes.subarray(i, i + n));
      i += n;
    }
    if (!this.pumping) this.pump();
  }

  private pump(): void {
    const p = this.outbox.shift();
    if (!p || this.channel.destroyed) {
      this.pumping = false;
      return;
    }
    this.pumping = true;
    this.channel.push(p);
    setImmediate(() => this.pump());
  }

  close(): void {
    this.channel.destroy();
  }
}

/**
 * The recorded lines per request id: its reply and the events QEMU sent after it until the
 * next reply (a job's later status changes, for instance), as the peer would send them.
 */
function recordedSegments(): Map<number, string[]> {
  const segments = new Map<number, string[]>();
  let current: string[] | null = null;
  for (const line of RECORDED_QMP_LINES.slice(1)) {
    const reply = /^\{"(?:return|id)"/.test(line) || line.includes('"error": {"class"');
    if (reply) {
      const id = Number(/"id": (\d+)/.exec(line)?.[1]);
      current = [line];
      segments.set(id, current);
    } else if (current) {
      current.push(line);
    }
  }
  return segments;
}

function replayClient(seed: number): { client: QmpClient; qemu: FakeQemu } {
  const segments = recordedSegments();
  const qemu = new FakeQemu(RECORDED_QMP_LINES[0]!, (req) => segments.get(req['id'] as number) ?? [], seed);
  const client = new QmpClient({ connect: () => Promise.resolve(qemu.channel), commandTimeoutMs: 2000 });
  return { client, qemu };
}

describe('QmpMessageParser', () => {
  const expected = RECORDED_QMP_LINES.length;

  it('parses the recorded stream whole', () => {
    const msgs = new QmpMessageParser().push(Buffer.from(RECORDED_QMP_BYTES));
    expect(msgs).toHaveLength(expected);
    expect(msgs[0]).toMatchObject({ kind: 'greeting' });
    expect(msgs.filter((m) => m.kind === 'event')).toHaveLength(9);
    expect(msgs.find((m) => m.kind === 'error')).toEqual({
      kind: 'error',
      id: 6,
      errorClass: 'CommandNotFound',
      desc: 'The command no-such-command has not been found',
    });
  });

  it('resumes where the bytes ran out, at every split point', () => {
    const bytes = Buffer.from(RECORDED_QMP_BYTES);
    const whole = new QmpMessageParser().push(bytes);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const p = new QmpMessageParser();
      const got: QmpIncoming[] = [...p.push(bytes.subarray(0, cut)), ...p.push(bytes.subarray(cut))];
      expect(got).toEqual(whole);
    }
  });

  it('parses byte by byte', () => {
    const p = new QmpMessageParser();
    const got: QmpIncoming[] = [];
    for (const b of Buffer.from(RECORDED_QMP_BYTES)) got.push(...p.push(Uint8Array.of(b)));
    expect(got).toHaveLength(expected);
  });

  it('refuses a line that is not JSON, or an unknown message', () => {
    expect(() => new QmpMessageParser().push(Buffer.from('hello\r\n'))).toThrow(QmpError);
    expect(() => new QmpMessageParser().push(Buffer.from('{"foo": 1}\r\n'))).toThrow(/does not understand/);
  });
});

describe('QmpClient on the recorded session', () => {
  for (const seed of [1, 2, 3]) {
    it(`negotiates, runs commands and a job, reports errors and events (chunk seed ${seed})`, async () => {
      const { client, qemu } = replayClient(seed);
      const events: string[] = [];
      client.onAnyEvent((e) => events.push(e.event));
      const greeting = await client.open();
      expect(greeting.QMP.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
      expect(client.state).toBe('ready');
      expect(qemu.requests[0]).toEqual({ execute: 'qmp_capabilities', id: 1 });

      expect(await client.execute('query-status')).toEqual({ status: 'prelaunch', singlestep: false, running: false });
      await client.runJob('snapshot-save', { tag: 't', vmstate: 'disk0', devices: ['disk0'] });
      expect(qemu.requests.map((r) => r['execute'])).toEqual([
        'qmp_capabilities',
        'query-status',
        'snapshot-save',
        'query-jobs',
        'job-dismiss',
      ]);
      expect(qemu.requests[2]).toMatchObject({ arguments: { 'job-id': 'maru-snapshot-save-1', tag: 't' } });

      const unknown = client.execute('no-such-command' as 'stop');
      await expect(unknown).rejects.toMatchObject({ qmpClass: 'CommandNotFound', command: 'no-such-command' });

      await client.execute('cont');
      await client.execute('stop');
      await client.execute('quit');
      expect(events).toContain('RESUME');
      expect(events).toContain('STOP');
      expect(events).toContain('SHUTDOWN');
      expect(events.filter((e) => e === 'JOB_STATUS_CHANGE')).toHaveLength(6);
      client.dispose();
    });
  }
});

describe('QmpClient failures', () => {
  const greeting = RECORDED_QMP_LINES[0]!;

  function scripted(respond: (req: Record<string, unknown>) => string[]): { client: QmpClient; qemu: FakeQemu } {
    const qemu = new FakeQemu(greeting, (req) =>
      req['execute'] === 'qmp_capabilities' ? [`{"return": {}, "id": ${String(req['id'])}}`] : respond(req),
    );
    return { client: new QmpClient({ connect: () => Promise.resolve(qemu.channel), commandTimeoutMs: 300 }), qemu };
  }

  it('rejects a job with the error query-jobs reports, and still dismisses it', async () => {
    const { client, qemu } = scripted((req) => {
      const id = String(req['id']);
      const job = (req['arguments'] as { 'job-id'?: string } | undefined)?.['job-id'];
      switch (req['execute']) {
        case 'snapshot-load':
          return [
            `{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "JOB_STATUS_CHANGE", "data": {"status": "aborting", "id": "${job}"}}`,
            `{"timestamp": {"seconds": 1, "microseconds": 1}, "event": "JOB_STATUS_CHANGE", "data": {"status": "concluded", "id": "${job}"}}`,
            `{"return": {}, "id": ${id}}`,
          ];
        case 'query-jobs':
          return [
            `{"return": [{"current-progress": 1, "status": "concluded", "total-progress": 1, "type": "snapshot-load", "id": "maru-snapshot-load-1", "error": "Snapshot 'nope' does not exist in one or more devices"}], "id": ${id}}`,
          ];
        default:
          return [`{"return": {}, "id": ${id}}`];
      }
    });
    await client.open();
    await expect(
      client.runJob('snapshot-load', { tag: 'nope', vmstate: 'disk0', devices: ['disk0'] }),
    ).rejects.toMatchObject({
      qmpClass: 'JobFailed',
      message: "Snapshot 'nope' does not exist in one or more devices",
    });
    expect(qemu.requests.at(-1)).toMatchObject({ execute: 'job-dismiss', arguments: { id: 'maru-snapshot-load-1' } });
    client.dispose();
  });

  it('times a command out, ignores the late reply, and keeps working', async () => {
    let slow = true;
    const { client, qemu } = scripted((req) => {
      if (req['execute'] === 'query-status' && slow) {
        slow = false;
        const id = String(req['id']);
        setTimeout(() => qemu.send([`{"return": {"status": "running", "running": true}, "id": ${id}}`]), 500);
        return [];
      }
      return [`{"return": {"status": "paused", "running": false}, "id": ${String(req['id'])}}`];
    });
    await client.open();
    await expect(client.execute('query-status', undefined, { timeoutMs: 100 })).rejects.toMatchObject({
      qmpClass: 'Timeout',
    });
    await new Promise((r) => setTimeout(r, 600));
    expect(await client.execute('query-status')).toEqual({ status: 'paused', running: false });
    client.dispose();
  });

  it('fails pending commands and waits when the stream closes, then reconnects', async () => {
    const channels: FakeQemu[] = [];
    const make = (): FakeQemu => {
      const q = new FakeQemu(greeting, (req) =>
        req['execute'] === 'qmp_capabilities' || channels.length > 1
          ? [`{"return": {}, "id": ${String(req['id'])}}`]
          : [],
      );
      channels.push(q);
      return q;
    };
    const client = new QmpClient({ connect: () => Promise.resolve(make().channel), commandTimeoutMs: 5000 });
    const closes: (Error | null)[] = [];
    client.onDidClose(({ error }) => closes.push(error));
    await client.open();
    const pending = client.execute('system_powerdown');
    const waiting = client.waitForEvent('SHUTDOWN', () => true, 5000);
    channels[0]!.close();
    await expect(pending).rejects.toMatchObject({ qmpClass: 'Disconnected', command: 'system_powerdown' });
    await expect(waiting.promise).rejects.toMatchObject({ qmpClass: 'Disconnected' });
    expect(client.state).toBe('closed');
    expect(closes).toHaveLength(1);
    await client.reconnect();
    expect(client.state).toBe('ready');
    await expect(client.execute('cont')).resolves.toEqual({});
    client.dispose();
    await expect(client.execute('cont')).rejects.toMatchObject({ qmpClass: 'Disconnected' });
  });

  it('gives up when no greeting comes', async () => {
    const silent = new Duplex({ read: () => undefined, write: (_c, _e, cb) => cb() });
    const client = new QmpClient({ connect: () => Promise.resolve(silent), handshakeTimeoutMs: 100 });
    await expect(client.open()).rejects.toMatchObject({ qmpClass: 'Timeout' });
    expect(client.state).toBe('closed');
    client.dispose();
  });
});
