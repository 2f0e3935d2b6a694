// Drives as v86 0.5.x attaches them: the disk helper's file-backed block device, plus the
// two cache calls v86's IDE code makes besides get/set (it reads the MBR with get_and_cache
// before boot and reads it back with get_from_cache to guess the disk geometry), and a
// bounded read-ahead for read-only media.
import type { V86BlockDevice } from '../../disk/block-device';

/** The block-device shape v86 0.5.x uses for hard disks and CD-ROMs. */
export interface V86Drive {
  readonly byteLength: number;
  onload: ((event: object) => void) | undefined;
  onprogress: ((event: object) => void) | undefined;
  load(): void;
  get(start: number, len: number, fn: (data: Uint8Array) => void, options?: { signal?: AbortSignal }): void;
  set(start: number, data: Uint8Array, fn: () => void): void;
  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void;
  get_from_cache(start: number, len: number): Uint8Array | undefined;
  get_state(): unknown;
  set_state(state: unknown): void;
}

/** A few blocks v86 asked to keep (the MBR), kept current across guest writes. */
const MAX_CACHED = 8;
/** Read-ahead covers requests up to this size (a boot loader reads 64 KiB at a time)… */
const MAX_READ_AHEAD = 256 * 1024;
/** … and keeps this many of them in flight (at most 1 MiB held). */
const READ_AHEAD_DEPTH = 4;

/** A sequential read fetched before it is asked for. */
interface ReadAhead {
  readonly start: number;
  readonly len: number;
  data: Uint8Array | undefined;
  readonly waiters: ((data: Uint8Array) => void)[];
}

export interface V86DriveOptions {
  /**
   * Keep the next sequential reads in flight (read-only media only: boot loaders read CDs in
   * 64 KiB steps, and each read would otherwise wait a full round trip while the guest spins).
   */
  readonly readAhead?: boolean;
}

/** Wraps a block device for v86; everything else passes straight through. */
export class V86DriveAdapter implements V86Drive {
  onload: ((event: object) => void) | undefined = undefined;
  onprogress: ((event: object) => void) | undefined = undefined;
  private readonly cache = new Map<number, Uint8Array>();
  private ahead: ReadAhead[] = [];
  private nextStart = 0;

  constructor(
    readonly device: V86BlockDevice,
    private readonly options: V86DriveOptions = {},
  ) {}

  get byteLength(): number {
    return this.device.byteLength;
  }

  load(): void {
    this.device.onload = (e) => this.onload?.(e);
    this.device.load();
  }

  get(start: number, len: number, fn: (data: Uint8Array) => void, options?: { signal?: AbortSignal }): void {
    const hit = this.ahead[0];
    if (hit && hit.start === start && hit.len === len) {
      this.ahead.shift();
      this.prefetch(len);
      // v86 accepts the callback from within get() (its in-memory buffers do just that).
      const deliver = (data: Uint8Array): void => {
        if (!options?.signal?.aborted) fn(data);
      };
      if (hit.data) deliver(hit.data);
      else hit.waiters.push(deliver);
      return;
    }
    this.ahead = [];
    this.device.get(start, len, fn, options);
    this.nextStart = start + len;
    this.prefetch(len);
  }

  /** Keeps up to READ_AHEAD_DEPTH reads of `len` bytes in flight past the last one asked for. */
  private prefetch(len: number): void {
    if (!this.options.readAhead || len > MAX_READ_AHEAD) return;
    while (this.ahead.length < READ_AHEAD_DEPTH && this.nextStart + len <= this.byteLength) {
      const entry: ReadAhead = { start: this.nextStart, len, data: undefined, waiters: [] };
      this.ahead.push(entry);
      this.nextStart += len;
      this.device.get(entry.start, len, (data) => {
        entry.data = data;
        for (const w of entry.waiters.splice(0)) w(data);
      });
    }
  }

  set(start: number, data: Uint8Array, fn: () => void): void {
    // Keep cached blocks true to what the guest wrote (the installer rewrites the MBR).
    for (const [at, block] of this.cache) {
      const from = Math.max(at, start);
      const to = Math.min(at + block.length, start + data.length);
      if (from < to) block.set(data.subarray(from - start, to - start), from - at);
    }
    this.ahead = []; // never serve a read-ahead older than a write
    this.device.set(start, data, fn);
  }

  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void {
    this.device.get(start, len, (data) => {
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(start, new Uint8Array(data));
      fn(data);
    });
  }

  get_from_cache(start: number, len: number): Uint8Array | undefined {
    const block = this.cache.get(start);
    return block && block.length >= len ? block.subarray(0, len) : undefined;
  }

  get_state(): unknown {
    return this.device.get_state();
  }

  set_state(state: unknown): void {
    this.device.set_state(state);
  }
}
