// The engine power-state machine: allowed moves fire events, illegal ones throw, final states are final.
import { describe, expect, it } from 'vitest';
import { EngineStateMachine, OperationQueue } from '../../../src-emulator/engines/engine-state';
import type { EngineStateChange } from '../../../src-emulator/engines/engine';

describe('EngineStateMachine', () => {
  it('moves along allowed transitions and reports them with reasons', () => {
    const sm = new EngineStateMachine();
    const seen: EngineStateChange[] = [];
    sm.onDidChange((c) => seen.push(c));
    expect(sm.state).toBe('starting');
    sm.set('running');
    sm.set('paused', 'paused by the user');
    sm.set('paused'); // no-op
    sm.set('saving');
    sm.set('off', 'state saved');
    expect(seen).toEqual([
      { from: 'starting', to: 'running' },
      { from: 'running', to: 'paused', reason: 'paused by the user' },
      { from: 'paused', to: 'saving' },
      { from: 'saving', to: 'off', reason: 'state saved' },
    ]);
    expect(sm.isFinal).toBe(true);
  });

  it('throws on an illegal transition, and trySet ignores it', () => {
    const sm = new EngineStateMachine();
    expect(() => sm.set('saving')).toThrow(/Illegal engine state transition starting → saving/);
    sm.set('running');
    sm.set('aborted', 'QEMU was killed');
    expect(sm.trySet('running')).toBe(false);
    expect(() => sm.set('off')).toThrow(/aborted → off/);
    expect(sm.state).toBe('aborted');
  });

  it('require: hands back the engine handle in an allowed state, else a BUSY error naming the state', () => {
    const sm = new EngineStateMachine();
    expect(() => sm.require({ qmp: 1 }, 'pause', '"Win 11"', 'running')).toThrow(
      'Cannot pause: VM "Win 11" is starting.',
    );
    sm.set('running');
    expect(sm.require({ qmp: 1 }, 'pause', '"Win 11"', 'running')).toEqual({ qmp: 1 });
    expect(() => sm.require(null, 'pause', '"Win 11"', 'running')).toThrow(expect.objectContaining({ code: 'BUSY' }));
  });
});

describe('OperationQueue', () => {
  it('runs operations one at a time in call order; a failure does not stop the next', async () => {
    const q = new OperationQueue();
    const log: string[] = [];
    const op =
      (name: string, ms: number, fail = false) =>
      () =>
        new Promise<string>((resolve, reject) => {
          log.push(`start ${name}`);
          setTimeout(() => {
            log.push(`end ${name}`);
            if (fail) reject(new Error(name));
            else resolve(name);
          }, ms);
        });
    const a = q.run(op('a', 20));
    const b = q.run(op('b', 1, true));
    const c = q.run(op('c', 1));
    await expect(a).resolves.toBe('a');
    await expect(b).rejects.toThrow('b');
    await expect(c).resolves.toBe('c');
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });
});
