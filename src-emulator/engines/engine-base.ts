// What every engine shares: the power state machine and its events, the serial output event,
// operations one at a time, key strokes in call order, pause/resume, and rolling back a failed
// save. An engine supplies the handle that drives its VM (QMP client, v86 machine) and its steps.
import type { EngineState } from '../../src-shared/contracts/engine';
import { AppError } from '../../src-shared/errors';
import { Emitter, type Event } from '../base/event';
import { comboKeys, textToKeyStrokes, type KeyStroke } from '../input/key-mapping';
import type { EngineStateChange } from './engine';
import { EngineStateMachine, OperationQueue } from './engine-state';

/** Pause and resume: the verb in messages, the state each starts from, the reason of the move. */
const RUN_SWITCH = {
  paused: { what: 'pause', from: 'running', reason: 'paused' },
  running: { what: 'resume', from: 'paused', reason: 'resumed' },
} as const;

export abstract class EngineBase<Handle> {
  protected readonly sm = new EngineStateMachine();
  protected readonly serialOut = new Emitter<Uint8Array>();
  readonly onDidChangeState: Event<EngineStateChange> = this.sm.onDidChange;
  readonly onSerialOutput: Event<Uint8Array> = this.serialOut.event;
  private readonly ops = new OperationQueue();
  private input: Promise<unknown> = Promise.resolve();

  protected constructor(
    private readonly vmName: string,
    private readonly logLine: (line: string) => void,
  ) {}

  get state(): EngineState {
    return this.sm.state;
  }

  /** The VM's name as messages quote it. */
  protected get label(): string {
    return JSON.stringify(this.vmName);
  }

  /** What drives the running VM; null before start and after teardown. */
  protected abstract get handle(): Handle | null;
  /** Halts the guest's CPUs (`running` false) or lets them continue. */
  protected abstract setGuestRunning(handle: Handle, running: boolean): Promise<void>;
  /** Presses and releases one stroke's keys; `combo` when it is a key combo rather than typed text. */
  protected abstract pressKeys(handle: Handle, stroke: KeyStroke, combo: boolean): Promise<void>;

  /** Runs a state-changing operation after the ones before it. */
  protected serialize<T>(fn: () => Promise<T>): Promise<T> {
    return this.ops.run(fn);
  }

  /** The handle, when the VM is in one of `allowed`; otherwise BUSY ("Cannot <what>: VM … is <state>."). */
  protected requireState(what: string, ...allowed: EngineState[]): Handle {
    return this.sm.require(this.handle, what, this.label, ...allowed);
  }

  /** Moves a running or paused VM to `saving`; returns the state it was in, for {@link saveFailed}. */
  protected enterSaving(): 'running' | 'paused' {
    const before = this.sm.state as 'running' | 'paused';
    this.sm.set('saving', 'saving state');
    return before;
  }

  /**
   * A save that failed: where the VM can still run (`canRollBack`, and it has not ended
   * meanwhile) it goes back to `before`, its CPUs continued if it was running. Throws the
   * failure as an AppError.
   */
  protected async saveFailed(
    err: unknown,
    before: 'running' | 'paused',
    handle: Handle,
    canRollBack: boolean,
  ): Promise<never> {
    if (canRollBack && !this.sm.isFinal) {
      if (before === 'running') {
        await this.setGuestRunning(handle, true).catch((e: unknown) =>
          this.logLine(`resuming after a failed save failed: ${String(e)}`),
        );
      }
      this.sm.trySet(before, 'save failed');
    }
    if (err instanceof AppError) throw err;
    throw new AppError('IO', `Saving the state of VM ${this.label} failed: ${(err as Error).message}`);
  }

  pause(): Promise<void> {
    return this.switchRunning('paused');
  }

  resume(): Promise<void> {
    return this.switchRunning('running');
  }

  /** Types text on a US keyboard layout. */
  sendKeys(text: string): Promise<void> {
    return this.sendStrokes(textToKeyStrokes(text), false);
  }

  /** Presses keys together and releases them, e.g. ['ctrl', 'alt', 'delete']. */
  sendCombo(keys: readonly string[]): Promise<void> {
    return this.sendStrokes([comboKeys(keys)], true);
  }

  private switchRunning(to: keyof typeof RUN_SWITCH): Promise<void> {
    const step = RUN_SWITCH[to];
    return this.serialize(async () => {
      if (this.sm.state === to) return;
      const handle = this.requireState(step.what, step.from);
      await this.setGuestRunning(handle, to === 'running');
      // An event of the engine's own may have moved the state already (QMP STOP/RESUME, an abort).
      this.sm.trySet(to, step.reason);
    });
  }

  /** Key input runs in call order but beside other operations (typing into a VM being paused fails per stroke). */
  private sendStrokes(strokes: readonly KeyStroke[], combo: boolean): Promise<void> {
    const run = this.input.then(async () => {
      for (const s of strokes) await this.pressKeys(this.requireState('send keys', 'running'), s, combo);
    });
    this.input = run.catch(() => undefined);
    return run;
  }
}
