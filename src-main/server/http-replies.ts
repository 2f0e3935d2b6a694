// How the web console answers over HTTP: JSON replies, client errors (HttpError → 4xx with
// a message, never a stack trace), security headers, cookies, and the counters every part
// of the server adds to.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, type ErrorCode } from '../../src-shared/errors';
import { RENDERER_CSP } from '../services/renderer-csp';

/** Counters the security tests and the operator can read. */
export interface ServerStats {
  droppedSlowReaders: number;
  oversizedClosed: number;
  rejectedUpgrades: number;
  rejectedRequests: number;
}

/**
 * A request the client got wrong (or may not make now): answered with `status` and the
 * message, logged without a stack trace. `headers` travel with the answer (e.g. Retry-After).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'THROTTLED' | 'METHOD' | 'TIMEOUT',
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The HTTP status of an expected failure a service reported (AppError), by its code. */
export function statusOfAppError(err: AppError): number {
  switch (err.code) {
    case 'INVALID_ARGUMENT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'BUSY':
      return 409;
    case 'INACCESSIBLE':
    case 'UNSUPPORTED':
    case 'HOST_LIMIT':
      return 422;
    case 'CANCELLED':
      return 499;
    default:
      return 500;
  }
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string | string[]>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Answers `{ ok: false, error: { code, message } }` and counts the refusal. */
export function fail(
  stats: ServerStats,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers?: Readonly<Record<string, string>>,
): void {
  stats.rejectedRequests++;
  json(res, status, { ok: false, error: { code, message } }, headers);
}

export function securityHeaders(res: ServerResponse, tls: boolean): void {
  res.setHeader('Content-Security-Policy', RENDERER_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  if (tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * The client's address, for per-client limits: the TCP peer, never a header a client can set
 * (X-Forwarded-For is not trusted). An IPv4 address seen over IPv6 (`::ffff:a.b.c.d`) is the
 * IPv4 client.
 */
export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
