// One socket that carries Ethernet frames (frame-stream.ts format) both ways, with a bounded
// send side: when the other end does not keep up (its bytes pile up in our write buffer), frames
// for it are dropped, as an Ethernet switch drops what a congested port cannot take.
import type net from 'node:net';
import { FRAME_HEADER_BYTES, FrameDecoder } from './frame-stream';

export interface FrameLinkHandlers {
  /** A frame arrived (a view valid until the handler returns, unless it keeps the buffer). */
  readonly onFrame: (frame: Buffer, link: FrameLink) => void;
  /** The link ended: the socket closed, failed, or broke the frame format (`error` says which). */
  readonly onClose: (link: FrameLink, error: Error | null) => void;
  /** Frames for this link start being dropped (once per congested spell). */
  readonly onCongested?: (link: FrameLink) => void;
}

export class FrameLink {
  private readonly decoder: FrameDecoder;
  private corked = false;
  private congested = false;
  private closed = false;
  private closeError: Error | null = null;
  /** Frames dropped because the other end did not keep up. */
  dropped = 0;

  constructor(
    readonly socket: net.Socket,
    /** Bytes waiting in our write buffer beyond which frames for this link are dropped. */
    private readonly maxQueuedBytes: number,
    private readonly handlers: FrameLinkHandlers,
  ) {
    this.decoder = new FrameDecoder((frame) => handlers.onFrame(frame, this));
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      try {
        this.decoder.push(chunk);
      } catch (err) {
        // A bad length (FrameProtocolError), or a failing handler: this link ends, the others go on.
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('drain', () => {
      this.congested = false;
    });
    socket.on('error', (err) => {
      this.closeError ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      handlers.onClose(this, this.closeError);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes waiting in our write buffer for this link. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /**
   * Sends one frame; false when it was dropped (the link is closed or congested). Writes made in
   * one turn of the event loop leave in one system call (cork until the next tick).
   */
  send(frame: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.writableLength > this.maxQueuedBytes) {
      this.dropped++;
      if (!this.congested) {
        this.congested = true;
        this.handlers.onCongested?.(this);
      }
      return false;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(frame.byteLength, 0);
    this.socket.write(header);
    this.socket.write(frame);
    return true;
  }

  /** Ends the link at once (queued frames are dropped); `error` is what onClose reports. */
  destroy(error: Error | null = null): void {
    if (error) this.closeError ??= error;
    this.socket.destroy();
  }
}
