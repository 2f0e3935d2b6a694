// An engine's power state as an explicit state machine: only the transitions of
// ENGINE_TRANSITIONS happen; an illegal one is a bug and throws.
import { isEngineTransitionAllowed, isFinalEngineState, type EngineState } from '../../src-shared/contracts/engine';
import { AppError } from '../../src-shared/errors';
import { Emitter, type Event } from '../base/event';
import type { Disposable } from '../base/lifecycle';
import type { EngineStateChange } from './engine';

export class EngineStateMachine implements Disposable {
  private current: EngineState = 'starting';
  private readonly changes = new Emitter<EngineStateChange>();
  readonly onDidChange: Event<EngineStateChange> = this.changes.event;

  get state(): EngineState {
    return this.current;
  }

  get isFinal(): boolean {
    return isFinalEngineState(this.current);
  }

  /** Moves to `to` (a no-op when already there). Throws on an illegal move. */
  set(to: EngineState, reason?: string): void {
    const from = this.current;
    if (from === to) return;
    if (!isEngineTransitionAllowed(from, to)) {
      throw new Error(`Illegal engine state transition ${from} → ${to}${reason ? ` (${reason})` : ''}.`);
    }
    this.current = to;
    this.changes.fire({ from, to, ...(reason !== undefined ? { reason } : {}) });
  }

  /** Like `set`, but a transition the table refuses is ignored (for events that may race a final state). */
  trySet(to: EngineState, reason?: string): boolean {
    if (this.current === to || !isEngineTransitionAllowed(this.current, to)) return false;
    this.set(to, reason);
    return true;
  }

  /**
   * Returns `handle` when the state is one of `allowed` and the handle exists; otherwise throws
   * BUSY: "Cannot <what>: VM <label> is <state>."
   */
  require<T>(handle: T | null | undefined, what: string, vmLabel: string, ...allowed: EngineState[]): T {
    if (!allowed.includes(this.current) || handle === null || handle === undefined) {
      throw new AppError('BUSY', `Cannot ${what}: VM ${vmLabel} is ${this.current}.`);
    }
    return handle;
  }

  dispose(): void {
    this.changes.dispose();
  }
}

/** Runs an engine's state-changing operations one at a time, in call order; a failed one does not block the next. */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
