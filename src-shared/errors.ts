// Error kinds that cross process boundaries: an expected failure the user must see
// (AppError with a code), a cancellation, or a bug (anything else).

/** Stable codes; the UI and the CLI map them to messages and exit statuses. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INACCESSIBLE'
  | 'HOST_LIMIT'
  | 'MISSING_DEPENDENCY'
  | 'BUSY'
  | 'IO'
  | 'CANCELLED'
  | 'UNSUPPORTED'
  | 'INTERNAL';

/** An expected failure with a message that says what happened, why and what to do. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export class CancelledError extends AppError {
  constructor(message = 'Cancelled.') {
    super('CANCELLED', message);
    this.name = 'CancelledError';
  }
}

/** Wire form of a result: `{ ok: true, value }` or `{ ok: false, error: { code, message } }`. */
export type WireResult<T> =
  | { ok: true; value: T }
  | { ok: false; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

export function toWireError(err: unknown): WireResult<never> {
  if (err instanceof AppError) {
    return {
      ok: false,
      error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: 'INTERNAL', message: `Internal error: ${message}` } };
}

export function fromWire<T>(result: WireResult<T>): T {
  if (result.ok) return result.value;
  throw new AppError(result.error.code, result.error.message, result.error.details);
}

/**
 * An error that crossed a boundary which keeps only plain data (Electron's context bridge
 * drops an Error's own properties, so the preload rejects with the wire error object):
 * a `{ code, message, details? }` becomes the AppError again; anything else is returned as is.
 */
export function reviveError(err: unknown): unknown {
  if (err instanceof Error || typeof err !== 'object' || err === null) return err;
  const { code, message, details } = err as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return err;
  const d = typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : undefined;
  return code === 'CANCELLED' ? new CancelledError(message) : new AppError(code as ErrorCode, message, d);
}
