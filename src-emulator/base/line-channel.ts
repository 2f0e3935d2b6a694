// Newline-delimited JSON over a byte stream, the framing of the engine host's control
// endpoint (and of QMP): a decoder that resumes across chunks and refuses oversized lines.

/** Splits a byte stream into lines (without the `\n`); throws when a line exceeds `maxBytes`. */
export class LineDecoder {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly maxBytes: number,
    /** How a too-long line is named in the error ("Control message", "QMP message"). */
    private readonly what = 'Control message',
  ) {}

  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length) {
          this.parts.push(Buffer.from(buf));
          this.size += buf.length;
        }
        if (this.size > this.maxBytes) throw new RangeError(`${this.what} longer than ${this.maxBytes} bytes.`);
        return out;
      }
      const line = this.parts.length ? Buffer.concat([...this.parts, buf.subarray(0, nl)]) : buf.subarray(0, nl);
      if (line.length > this.maxBytes) throw new RangeError(`${this.what} longer than ${this.maxBytes} bytes.`);
      this.parts = [];
      this.size = 0;
      buf = buf.subarray(nl + 1);
      const text = line.toString('utf8').trim();
      if (text) out.push(text);
    }
  }
}

/** One message as a line. */
export function encodeLine(value: unknown): string {
  return JSON.stringify(value) + '\n';
}
