// The one shape every disk image backend has (qcow2, raw): positional async reads and
// writes, flush and close. Block devices and backing chains are written against it.

/** A virtual disk backed by a file. All offsets and lengths are in bytes. */
export interface DiskImage {
  /** The file the image lives in. */
  readonly path: string;
  /** Size of the disk as the guest sees it. */
  readonly virtualSize: number;
  readonly readOnly: boolean;
  /**
   * Reads `length` bytes at `offset` (the range must lie inside the virtual size). Sees every
   * write issued before it.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Writes `data` at `offset` (the range must lie inside the virtual size). `data` must not be
   * changed until the returned promise settles.
   */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes every completed write durable (fsync). */
  flush(): Promise<void>;
  /** Waits for pending operations, then closes the file. Further calls fail. */
  close(): Promise<void>;
}
