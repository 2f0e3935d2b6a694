// Disposables: everything that owns a socket, process, timer or listener is one, and its
// owner disposes it. A store disposes what it holds in reverse order, once.

/** Something that holds a resource until `dispose()` releases it (idempotent). */
export interface Disposable {
  dispose(): void;
}

/** Wraps a function as a Disposable that runs it at most once. */
export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      fn();
    },
  };
}

/** Holds disposables and releases them together, newest first. */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  /** Adds `d`; once the store is disposed, `d` is disposed at once. Returns `d`. */
  add<T extends Disposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.items.push(d);
    return d;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    for (const d of this.items.splice(0).reverse()) {
      try {
        d.dispose();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Several disposables failed.');
  }
}

/** A timer as a Disposable. */
export function disposableTimeout(fn: () => void, ms: number): Disposable {
  const t = setTimeout(fn, ms);
  return toDisposable(() => clearTimeout(t));
}
