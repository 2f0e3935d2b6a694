// Ethernet frames over a byte stream, in QEMU's stream netdev format (`-netdev stream`, also
// `-netdev socket`): each frame is a 4-byte big-endian length and the frame's bytes. The
// decoder resumes where a chunk ran out; a length of 0 or above QEMU's limit is a protocol error.

/**
 * Largest frame either side may send: QEMU's NET_BUFSIZE (4096 + 65536, include/net/net.h),
 * which is also where its own reader gives up on a stream.
 */
export const MAX_FRAME_BYTES = 4096 + 65536;
/** Bytes of the length header before each frame. */
export const FRAME_HEADER_BYTES = 4;

/** The stream is not in the frame format (a length of 0, or larger than MAX_FRAME_BYTES). */
export class FrameProtocolError extends Error {
  constructor(readonly length: number) {
    super(
      `a frame length of ${length} bytes is not allowed (1..${MAX_FRAME_BYTES}): ` +
        'the peer does not speak the QEMU stream frame format',
    );
    this.name = 'FrameProtocolError';
  }
}

/** The 4-byte big-endian length header of a frame of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/** One frame with its header, as one buffer. */
export function encodeFrame(frame: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + frame.byteLength);
  out.writeUInt32BE(frame.byteLength, 0);
  out.set(frame, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into frames. Whole frames inside a chunk are handed on as views of that
 * chunk (no copy); a frame split across chunks is assembled in a buffer of its own. After a
 * protocol error the decoder stays failed: the connection is to be dropped.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  /** The frame being assembled across chunks, and how much of it has arrived. */
  private partial: Buffer | null = null;
  private partialFill = 0;
  private failed: FrameProtocolError | null = null;

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  /** Feeds the next chunk; throws FrameProtocolError (now and on every later call) on a bad length. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.partial) {
        const take = Math.min(this.partial.length - this.partialFill, end - at);
        chunk.copy(this.partial, this.partialFill, at, at + take);
        this.partialFill += take;
        at += take;
        if (this.partialFill === this.partial.length) {
          const frame = this.partial;
          this.partial = null;
          this.partialFill = 0;
          this.onFrame(frame);
        }
        continue;
      }
      let length: number;
      if (this.headerFill === 0 && end - at >= FRAME_HEADER_BYTES) {
        length = chunk.readUInt32BE(at);
        at += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, end - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < FRAME_HEADER_BYTES) return;
        this.headerFill = 0;
        length = this.header.readUInt32BE(0);
      }
      if (length === 0 || length > MAX_FRAME_BYTES) {
        this.failed = new FrameProtocolError(length);
        throw this.failed;
      }
      if (end - at >= length) {
        this.onFrame(chunk.subarray(at, at + length));
        at += length;
      } else {
        this.partial = Buffer.allocUnsafe(length);
        this.partialFill = 0;
      }
    }
  }
}
