// The zlib encoding's compressor (RFC 6143 §7.7.2 … "zlib"): the viewer inflates one zlib
// stream for the whole connection. We write that stream as a zlib header followed by
// independent raw-deflate segments, each ended with a sync flush (byte-aligned, never final):
// every segment is a valid continuation of the stream, so each rectangle can be compressed on
// its own, synchronously when that is cheap.
//
// Why synchronously: the engine host's thread also runs the emulator (v86), and an
// asynchronous job's result is only picked up after the emulator's next slice, a frame later.
// Compressing a typical frame at level 1 takes ~3 ms (1024×768, mostly flat colour) to
// 8–20 ms (1920×1080, depending on the machine); noisy content can take 100 ms and more, so a
// compression slower than 40 ms sends the next ones to the thread pool (below that, waiting a
// slice for the pool's result costs more than compressing here).
import { constants, deflateRaw, deflateRawSync } from 'node:zlib';
import type { Disposable } from '../base/lifecycle';

/** zlib header: deflate, 32 KiB window, no preset dictionary, "fastest" level hint. */
const ZLIB_HEADER = Uint8Array.of(0x78, 0x01);
/** A compression slower than this moves the following ones off this thread. */
const SYNC_BUDGET_MS = 40;
/** After a slow compression, this many go to the thread pool before trying inline again. */
const ASYNC_STREAK = 8;

/** One connection's zlib stream; call `compress` for one rectangle at a time, in order. */
export class ZlibStream implements Disposable {
  private headerSent = false;
  private disposed = false;
  private asyncLeft = 0;

  constructor(private readonly level = 1) {}

  /** Compresses `data` as the next part of the stream (the first part carries the zlib header). */
  async compress(data: Uint8Array): Promise<Buffer> {
    if (this.disposed) throw new Error('zlib stream closed');
    const options = { level: this.level, finishFlush: constants.Z_SYNC_FLUSH };
    let body: Buffer;
    if (this.asyncLeft > 0) {
      this.asyncLeft--;
      body = await new Promise<Buffer>((resolve, reject) =>
        deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out))),
      );
      if (this.disposed) throw new Error('zlib stream closed');
    } else {
      const t0 = performance.now();
      body = deflateRawSync(data, options);
      if (performance.now() - t0 > SYNC_BUDGET_MS) this.asyncLeft = ASYNC_STREAK;
    }
    if (this.headerSent) return body;
    this.headerSent = true;
    return Buffer.concat([ZLIB_HEADER, body]);
  }

  dispose(): void {
    this.disposed = true;
  }
}
