// The block device object v86 accepts for a hard disk or CD-ROM (`byteLength`, `load`, `get`,
// `set`, `get_state`, `set_state`), backed by a qcow2 or raw image with async, unbuffered I/O.
import { AppError } from '../../src-shared/errors';
import type { DiskImage } from './disk-image';
import { Qcow2Image, type Qcow2OpenOptions } from './qcow2-image';
import { RawImage } from './raw-image';

/** Options for {@link V86BlockDevice}. */
export interface V86BlockDeviceOptions {
  /**
   * Called when a read or write fails. v86 has no error path for disks, so the request's
   * callback is not called; the owner should stop the machine and show the error.
   */
  readonly onError?: (err: Error) => void;
}

/** Options for {@link openV86BlockDevice}. */
export interface OpenBlockDeviceOptions extends V86BlockDeviceOptions {
  /** Image format. Always given, never probed: a raw disk may contain anything. */
  readonly format: 'qcow2' | 'raw';
  readonly readOnly?: boolean;
  /** See {@link Qcow2OpenOptions.openBacking}. */
  readonly openBacking?: Qcow2OpenOptions['openBacking'];
}

/**
 * A v86 disk (see ENGINE-FACTS "Disks"): v86 calls `load()` and waits for `onload`, then
 * `get(start, len, cb)` and `set(start, data, cb)` with 512-byte aligned ranges (2048 for
 * CD-ROMs). Requests go straight to the image; nothing is buffered beyond the image's own
 * metadata caches. The disk contents are not part of `get_state()`: they live in the image,
 * which is snapshotted together with the v86 state file.
 */
export class V86BlockDevice {
  /** Disk size in bytes, as v86 expects. */
  readonly byteLength: number;
  readonly image: DiskImage;
  /** Set by v86 before it calls `load()`. */
  onload: ((event: object) => void) | undefined = undefined;
  /** v86 may set this; there is no download to report. */
  onprogress: ((event: object) => void) | undefined = undefined;
  readonly #onError: ((err: Error) => void) | undefined;
  #pending = 0;
  #idle: (() => void)[] = [];

  constructor(image: DiskImage, options: V86BlockDeviceOptions = {}) {
    this.image = image;
    this.byteLength = image.virtualSize;
    this.#onError = options.onError;
  }

  /** v86: "load" the disk. Nothing to fetch; reports ready on the next turn. */
  load(): void {
    setImmediate(() => this.onload?.({}));
  }

  /**
   * v86: read `len` bytes at `start` and pass them to `fn`. A request whose `signal` is
   * aborted (IDE reset) is dropped without calling `fn`.
   */
  get(start: number, len: number, fn: (data: Uint8Array) => void, options?: { signal?: AbortSignal }): void {
    const signal = options?.signal;
    this.#track(
      this.image.read(start, len).then((data) => {
        if (signal?.aborted) return;
        // Hand v86 an array that owns its whole ArrayBuffer (Node may pool small Buffers).
        fn(data.byteOffset === 0 && data.buffer.byteLength === data.length ? data : new Uint8Array(data));
      }),
    );
  }

  /** v86: write `data` at `start`, then call `fn`. The bytes are copied at once (v86 reuses its buffers). */
  set(start: number, data: Uint8Array, fn: () => void): void {
    const copy = new Uint8Array(data);
    this.#track(this.image.write(start, copy).then(() => fn()));
  }

  /** v86 state: only the size, as a consistency check; the contents are in the image. */
  get_state(): unknown[] {
    return [this.byteLength];
  }

  /** v86 state restore: checks that the state was saved with a disk of the same size. */
  set_state(state: unknown): void {
    const saved = Array.isArray(state) ? (state[0] as unknown) : undefined;
    if (typeof saved === 'number' && saved !== this.byteLength) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `The saved machine state expects a ${saved}-byte disk, but ${this.image.path} has ${this.byteLength} bytes.`,
      );
    }
  }

  /** Resolves when every request issued so far has completed (before save_state or a snapshot). */
  drain(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits for pending requests, flushes and closes the image. */
  async close(): Promise<void> {
    await this.drain();
    if (!this.image.readOnly) await this.image.flush();
    await this.image.close();
  }

  #track(p: Promise<void>): void {
    this.#pending++;
    p.catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      if (this.#onError) this.#onError(error);
      else console.error(`Disk I/O on ${this.image.path} failed:`, error);
    }).finally(() => {
      if (--this.#pending > 0) return;
      const waiters = this.#idle;
      this.#idle = [];
      for (const resolve of waiters) resolve();
    });
  }
}

/** Opens a qcow2 or raw image (raw read-only for ISOs) as a v86 block device. */
export async function openV86BlockDevice(path: string, options: OpenBlockDeviceOptions): Promise<V86BlockDevice> {
  const readOnly = options.readOnly ?? false;
  const image: DiskImage =
    options.format === 'qcow2'
      ? await Qcow2Image.open(path, {
          readOnly,
          ...(options.openBacking ? { openBacking: options.openBacking } : {}),
        })
      : await RawImage.open(path, { readOnly });
  return new V86BlockDevice(image, options.onError ? { onError: options.onError } : {});
}
