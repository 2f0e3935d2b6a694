// The desktop transport over the preload's `window.maruDesktop` (DesktopBridge): control-wire
// calls (a job's with `job: true`) answered by their result, a job's progress and the change
// events pushed by main, `cancel` when a job's signal aborts, and the Machine menu's actions.
// The desktop user is always signed in; a dropped ISO is used where it lies.
import { CancelledError, fromWire } from '../../src-shared/errors';
import { createControlClient, type ControlEvent, type ServiceName } from '../../src-shared/contracts/control';
import type { DesktopBridge } from '../../src-shared/contracts/ipc-channels';
import type { JobOptions } from '../../src-shared/contracts/jobs';
import type { IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import type { VmMenuAction } from '../../src-shared/contracts/menu';
import type { ControlTransport, SessionState } from './control-transport';

export class ElectronTransport implements ControlTransport {
  readonly kind = 'electron' as const;
  private nextId = 1;
  /** Progress listeners of this page's running job calls, by call id. */
  private readonly jobs = new Map<number, JobOptions>();
  private readonly eventListeners = new Set<(event: ControlEvent) => void>();

  constructor(private readonly api: DesktopBridge) {
    api.onControlMessage((message) => {
      if (message.type === 'event') {
        for (const l of this.eventListeners) l(message.event);
      } else {
        const { phase, fraction, data } = message;
        this.jobs.get(message.id)?.onProgress?.({ phase, fraction, ...(data !== undefined ? { data } : {}) });
      }
    });
  }

  async session(): Promise<SessionState> {
    return 'authenticated';
  }
  async login(): Promise<void> {}
  async logout(): Promise<void> {}

  /**
   * One call of the control contract. For a job (`job` given) main sends progress messages to
   * `job.onProgress`, and aborting `job.signal` cancels it: the call rejects with CANCELLED.
   */
  async call(service: ServiceName, method: string, args: readonly unknown[], job?: JobOptions): Promise<unknown> {
    if (job?.signal?.aborted) throw new CancelledError(`${service}.${method} was cancelled before it started.`);
    const id = this.nextId++;
    const cancel = (): void => this.api.cancel(id);
    if (job) {
      this.jobs.set(id, job);
      job.signal?.addEventListener('abort', cancel, { once: true });
    }
    try {
      const reply = await this.api.control({
        type: 'call',
        id,
        service,
        method,
        args: [...args],
        ...(job ? { job: true } : {}),
      });
      return fromWire(reply.result);
    } finally {
      this.jobs.delete(id);
      job?.signal?.removeEventListener('abort', cancel);
    }
  }

  async importIso(file: File): Promise<IsoUploadResult> {
    const detection = await createControlClient(this).media.detectIso(this.api.pathForFile(file));
    return { path: detection.path, detection };
  }

  onEvent(listener: (event: ControlEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => {
      this.eventListeners.delete(listener);
    };
  }

  onMenuAction(listener: (action: VmMenuAction) => void): () => void {
    return this.api.onMenuAction(listener);
  }

  /** IPC to main does not drop: the page and main live and end together. */
  onDisconnect(): () => void {
    return () => undefined;
  }
}
