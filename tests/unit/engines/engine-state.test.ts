// The engine power-state machine: allowed moves fire events, illegal ones throw, final states are final.
import { describe, expect, it } from 'vitest';
import { EngineStateMachine } from '../../../src-emulator/engines/engine-state';
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
});
