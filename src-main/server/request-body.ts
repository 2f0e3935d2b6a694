// Reading a JSON request body, for every route that takes one: the wrong Content-Type is
// 415, a body over the limit 413 (refused from Content-Length before reading, or as soon as
// the stream passes it), bytes that are not JSON 400 — client errors, never a 500.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-replies';

/** Reads and parses a JSON body of at most `maxBytes`; throws HttpError (415/413/400) otherwise. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(type)) {
    req.resume();
    throw new HttpError(415, 'INVALID_ARGUMENT', 'Send the request body as application/json.');
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(
      413,
      'INVALID_ARGUMENT',
      `The request body is ${declared} bytes; this route accepts at most ${maxBytes}.`,
      { Connection: 'close' },
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      throw new HttpError(413, 'INVALID_ARGUMENT', `The request body is larger than ${maxBytes} bytes.`, {
        Connection: 'close',
      });
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'INVALID_ARGUMENT', 'The request body is not valid JSON.');
  }
}

/** The body as a plain object (`{}`-shaped), or a 400: `null`, arrays and scalars are not requests. */
export async function readJsonObject(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req, maxBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_ARGUMENT', 'The request body must be a JSON object.');
  }
  return body as Record<string, unknown>;
}
