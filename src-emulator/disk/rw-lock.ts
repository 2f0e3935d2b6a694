// A first-in, first-out readers-writer lock for disk images: reads run together, a write
// runs alone, and every operation waits for the conflicting ones issued before it.

interface Waiter {
  readonly exclusive: boolean;
  readonly start: () => void;
}

/**
 * Orders disk operations in issue order. A read issued after a write sees that write (it
 * waits for it); reads issued back to back run concurrently; a write waits for every
 * operation issued before it and blocks every later one until it is done.
 */
export class ReadWriteLock {
  #readers = 0;
  #writer = false;
  readonly #queue: Waiter[] = [];

  /** Runs `fn` together with other shared holders, after every earlier exclusive holder. */
  shared<T>(fn: () => Promise<T>): Promise<T> {
    return this.#run(false, fn);
  }

  /** Runs `fn` alone, after every earlier holder. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#run(true, fn);
  }

  async #run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    if (!this.#tryTake(exclusive)) {
      await new Promise<void>((resolve) => this.#queue.push({ exclusive, start: resolve }));
    }
    try {
      return await fn();
    } finally {
      if (exclusive) this.#writer = false;
      else this.#readers--;
      this.#drain();
    }
  }

  #tryTake(exclusive: boolean): boolean {
    if (this.#queue.length > 0 || this.#writer || (exclusive && this.#readers > 0)) return false;
    if (exclusive) this.#writer = true;
    else this.#readers++;
    return true;
  }

  #drain(): void {
    for (let next = this.#queue[0]; next; next = this.#queue[0]) {
      if (this.#writer || (next.exclusive && this.#readers > 0)) return;
      this.#queue.shift();
      if (next.exclusive) this.#writer = true;
      else this.#readers++;
      next.start();
    }
  }
}
