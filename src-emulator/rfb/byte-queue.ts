// A queue of received bytes for protocol parsers that resume where the bytes ran out: peek
// at what has arrived, consume a whole message only once all of it is here.

/** Received bytes in arrival order; reads never cross what has arrived. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private total = 0;

  /** Bytes available. */
  get length(): number {
    return this.total;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.total += bytes.length;
  }

  /** The byte at `offset` from the front (offset < length). */
  peekU8(offset: number): number {
    let i = 0;
    let off = offset + this.head;
    while (i < this.chunks.length) {
      const c = this.chunks[i]!;
      if (off < c.length) return c[off]!;
      off -= c.length;
      i++;
    }
    throw new RangeError(`peek past the received bytes (${offset} of ${this.total})`);
  }

  /** A copy of the first `n` bytes, without consuming them (n <= length). */
  peek(n: number): Uint8Array {
    if (n > this.total) throw new RangeError(`peek of ${n} bytes with ${this.total} received`);
    const first = this.chunks[0];
    if (first && first.length - this.head >= n) return first.slice(this.head, this.head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let off = this.head;
    for (const c of this.chunks) {
      const take = Math.min(c.length - off, n - filled);
      out.set(c.subarray(off, off + take), filled);
      filled += take;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Consumes and returns the first `n` bytes (n <= length). */
  read(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Drops up to `n` bytes from the front; returns how many were dropped. */
  skip(n: number): number {
    const drop = Math.min(n, this.total);
    let left = drop;
    while (left > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (avail > left) {
        this.head += left;
        left = 0;
      } else {
        left -= avail;
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.total -= drop;
    return drop;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
