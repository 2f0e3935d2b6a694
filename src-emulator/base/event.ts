// Typed events: an Emitter owns its listeners and exposes `event`, a function to subscribe
// that returns a Disposable (the VS Code pattern: `onDidX(listener)`).
import { toDisposable, type Disposable } from './lifecycle';

/** Subscribes `listener`; dispose the result to unsubscribe. */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/** Fires values to its listeners in subscription order. A throwing listener does not stop the others. */
export class Emitter<T> implements Disposable {
  private listeners = new Set<(value: T) => void>();
  private disposed = false;
  private readonly onListenerError: (err: unknown) => void;

  constructor(options: { onListenerError?: (err: unknown) => void } = {}) {
    this.onListenerError =
      options.onListenerError ??
      ((err) => {
        queueMicrotask(() => {
          throw err;
        });
      });
  }

  readonly event: Event<T> = (listener) => {
    if (this.disposed) return toDisposable(() => undefined);
    this.listeners.add(listener);
    return toDisposable(() => this.listeners.delete(listener));
  };

  fire(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

/** Resolves with the first value `event` fires that passes `filter`; the subscription ends then. */
export function once<T>(event: Event<T>, filter: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const sub = event((v) => {
      if (!filter(v)) return;
      sub.dispose();
      resolve(v);
    });
  });
}
