// The zlib encoding's compressor (RFC 6143 §7.7.2 … "zlib"): one deflate stream for the
// whole connection, each rectangle's pixels ended with a sync flush so the viewer can
// inflate it at once while the dictionary carries over to the next rectangle.
import { constants, createDeflate, type Deflate } from 'node:zlib';
import type { Disposable } from '../base/lifecycle';

/** A sync flush always ends with an empty stored block: 00 00 ff ff. */
function endsWithSyncMarker(chunks: readonly Buffer[]): boolean {
  const tail: number[] = [];
  for (let i = chunks.length - 1; i >= 0 && tail.length < 4; i--) {
    const c = chunks[i]!;
    for (let j = c.length - 1; j >= 0 && tail.length < 4; j--) tail.unshift(c[j]!);
  }
  return tail.length === 4 && tail[0] === 0 && tail[1] === 0 && tail[2] === 0xff && tail[3] === 0xff;
}

/** One connection's deflate stream; `compress` calls run one after another, in call order. */
export class ZlibStream implements Disposable {
  private readonly deflate: Deflate;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  constructor(level = 1) {
    // Compression runs on libuv's thread pool, off the thread the emulator runs on.
    this.deflate = createDeflate({ level, memLevel: 9 });
  }

  /** Compresses `data` as the next part of the stream, ending in a sync flush. */
  compress(data: Uint8Array): Promise<Buffer> {
    const run = (): Promise<Buffer> =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.disposed) {
          reject(new Error('zlib stream closed'));
          return;
        }
        const out: Buffer[] = [];
        let flushed = false;
        const cleanup = (): void => {
          this.deflate.off('data', onData);
          this.deflate.off('error', onError);
          this.deflate.off('close', onClose);
        };
        // Done when the flush callback has run and the sync marker has arrived (output can
        // trail the callback when the readable side defers it).
        const finish = (): void => {
          if (!flushed || !endsWithSyncMarker(out)) return;
          cleanup();
          resolve(Buffer.concat(out));
        };
        const onData = (c: Buffer): void => {
          out.push(c);
          finish();
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const onClose = (): void => {
          cleanup();
          reject(new Error('zlib stream closed'));
        };
        this.deflate.on('data', onData);
        this.deflate.on('error', onError);
        this.deflate.on('close', onClose);
        this.deflate.write(data);
        this.deflate.flush(constants.Z_SYNC_FLUSH, () => {
          flushed = true;
          finish();
        });
      });
    const p = this.queue.then(run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.deflate.destroy();
  }
}
