// The web console's ISO upload (`POST /api/isos/upload?name=…`, behind the session + CSRF
// checks of web-server.ts): streams the body into a hidden part file in $MARU_HOME/isos,
// size-limited, with no total time limit but an idle one, removed when the client aborts or
// stalls; checks it with the ISO detector; and only then links it under a sanitized name that
// never replaces an existing file. A few run at once; the slot is taken before any await.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, statfs, unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, toWireError } from '../../src-shared/errors';
import { DEFAULT_MAX_ISO_UPLOAD_BYTES, type IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import { detectIso } from '../services/iso-detect/detect-iso';
import { isoFolder } from '../services/iso-detect/media-service';

export interface IsoUploadOptions {
  readonly maruHome: string;
  readonly maxBytes?: number;
  /** Uploads running at once (each holds a socket and a part file). */
  readonly maxConcurrent?: number;
  /** An upload that sends no bytes for this long is aborted and its part file removed. */
  readonly idleTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

const MAX_NAME = 120;

/**
 * A safe file name for an uploaded ISO: the last path component, NFC, letters/digits/space and
 * `._()+-` kept (others become `_`), no leading dot, at most 120 characters, ending in `.iso`.
 */
export function sanitizeIsoName(raw: string): string {
  let name = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  name = name
    .replace(/[^\p{L}\p{N} ._()+-]/gu, '_')
    .replace(/\s+/g, ' ')
    .replace(/^[\s.]+/, '')
    .trim();
  let stem = name.replace(/\.iso$/i, '');
  if (stem.length === 0) stem = 'upload';
  stem = stem.slice(0, MAX_NAME - 4).trim();
  return `${stem}.iso`;
}

/** Counts bytes through the pipe and fails once past the limit. */
function limiter(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(new AppError('INVALID_ARGUMENT', `The upload is larger than the limit (${max} bytes).`));
      else cb(null, chunk);
    },
  });
}

/** The client sent nothing for too long: the upload is abandoned. */
class UploadIdleError extends Error {}

/**
 * Passes bytes through and fails the pipe when none arrive for `idleMs` — however long the
 * whole upload takes while bytes keep coming.
 */
function idleWatch(idleMs: number): Transform {
  let timer: NodeJS.Timeout | undefined;
  const t: Transform = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      arm();
      cb(null, chunk);
    },
    flush(cb) {
      clearTimeout(timer);
      cb();
    },
    destroy(err, cb) {
      clearTimeout(timer);
      cb(err);
    },
  });
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => t.destroy(new UploadIdleError(`no data arrived for ${Math.round(idleMs / 1000)} s`)),
      idleMs,
    );
  };
  arm();
  return t;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    // The client may still be sending: tell it we are done with this connection.
    ...(status >= 400 ? { Connection: 'close' } : {}),
  });
  res.end(text);
}

export class IsoUploads {
  private active = 0;
  readonly maxBytes: number;
  private readonly maxConcurrent: number;
  private readonly idleTimeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: IsoUploadOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_ISO_UPLOAD_BYTES;
    this.maxConcurrent = opts.maxConcurrent ?? 2;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
    this.log = opts.log ?? (() => undefined);
  }

  /** Uploads in progress now. */
  get inProgress(): number {
    return this.active;
  }

  /**
   * Handles one upload request. `onAccepted` runs once the upload has its slot (the server
   * lifts its total request time limit then: an upload may take hours, the idle limit applies).
   */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, onAccepted?: () => void): Promise<void> {
    const fail = (status: number, code: string, message: string) =>
      send(res, status, { ok: false, error: { code, message } });
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/octet-stream')) {
      fail(415, 'INVALID_ARGUMENT', 'Upload the ISO as application/octet-stream.');
      return;
    }
    const rawName = url.searchParams.get('name');
    if (!rawName) {
      fail(400, 'INVALID_ARGUMENT', 'The upload needs a file name (?name=…).');
      return;
    }
    const lengthHeader = req.headers['content-length'];
    const declared = lengthHeader === undefined ? null : Number(lengthHeader);
    if (declared === null || !Number.isSafeInteger(declared) || declared < 0) {
      fail(411, 'INVALID_ARGUMENT', 'The upload needs a Content-Length.');
      return;
    }
    if (declared > this.maxBytes) {
      fail(
        413,
        'HOST_LIMIT',
        `The file is ${declared} bytes; this server accepts ISO uploads up to ${this.maxBytes} bytes.`,
      );
      return;
    }
    if (this.active >= this.maxConcurrent) {
      fail(
        429,
        'BUSY',
        `${this.active} ISO uploads are already running on this server (the limit is ${this.maxConcurrent}); ` +
          'wait for one to finish, then upload again.',
      );
      return;
    }
    // The slot is taken here, before the first await: uploads started together cannot all pass.
    this.active++;
    onAccepted?.();
    try {
      await this.receive(req, res, rawName, declared);
    } finally {
      this.active--;
    }
  }

  private async receive(req: IncomingMessage, res: ServerResponse, rawName: string, declared: number): Promise<void> {
    const dir = isoFolder(this.opts.maruHome);
    await mkdir(dir, { recursive: true });
    const free = await statfs(dir).then(
      (s) => s.bavail * s.bsize,
      () => null,
    );
    if (free !== null && declared > free) {
      send(res, 507, {
        ok: false,
        error: {
          code: 'HOST_LIMIT',
          message: `The server has ${free} bytes free in ${dir}; the ISO needs ${declared}.`,
        },
      });
      return;
    }
    const name = sanitizeIsoName(rawName);
    const part = path.join(dir, `.upload-${randomBytes(8).toString('hex')}.part`);
    let status = 200;
    let reply: unknown;
    try {
      try {
        await this.streamTo(req, part, declared);
      } catch (err) {
        if (err instanceof UploadIdleError) {
          this.log(`maru serve: upload of ${name} stalled (${err.message}); partial file removed.`);
          // Connection: close (send) ends the connection once this answer is out.
          send(res, 408, {
            ok: false,
            error: {
              code: 'IO',
              message:
                `The upload of ${name} stopped: ${err.message}, so the server gave up and removed the partial ` +
                'file. Check the connection and upload again.',
            },
          });
          return;
        }
        if (req.destroyed || req.readableAborted) {
          this.log(`maru serve: upload of ${name} cancelled by the client; partial file removed.`);
          res.destroy();
          return;
        }
        throw err;
      }
      // Our own upload: a file that is not an ISO is rejected and deleted (below, before answering).
      let detection;
      try {
        detection = await detectIso(part);
      } catch (err) {
        if (err instanceof AppError) {
          throw new AppError(err.code === 'NOT_FOUND' ? 'IO' : err.code, err.message.split(part).join(name));
        }
        throw err;
      }
      const final = await this.linkUnique(part, dir, name);
      const value: IsoUploadResult = { path: final, detection: { ...detection, path: final } };
      reply = { ok: true, value };
    } catch (err) {
      const wire = toWireError(err);
      status = wire.ok || wire.error.code === 'INTERNAL' ? 500 : 422;
      reply = wire;
      this.log(`maru serve: upload of ${name} not kept: ${wire.ok ? '' : wire.error.message}`);
    } finally {
      // The part file goes in every case: kept uploads live on under their final name (a hard link).
      await unlink(part).catch(() => undefined);
    }
    send(res, status, reply);
  }

  /**
   * Streams the request body into `part`, size-limited and watched for idleness. The request
   * is piped in rather than made part of the pipeline, so a stall does not destroy the
   * connection before the 408 that explains it is sent.
   */
  private async streamTo(req: IncomingMessage, part: string, declared: number): Promise<void> {
    const watch = idleWatch(this.idleTimeoutMs);
    const done = pipeline(watch, limiter(Math.min(declared, this.maxBytes)), createWriteStream(part, { flags: 'wx' }));
    const gone = () => {
      if (!req.complete) watch.destroy(new Error('the client closed the connection'));
    };
    req.on('error', gone);
    req.on('close', gone);
    req.pipe(watch);
    try {
      await done;
    } finally {
      req.unpipe(watch);
      req.off('error', gone);
      req.off('close', gone);
    }
  }

  /** Hard-links the part file under `name`, or `name-2.iso`, `-3`…: `link` never replaces a file. */
  private async linkUnique(part: string, dir: string, name: string): Promise<string> {
    const stem = name.replace(/\.iso$/i, '');
    for (let n = 1; n <= 1000; n++) {
      const candidate = path.join(dir, n === 1 ? name : `${stem}-${n}.iso`);
      try {
        await link(part, candidate);
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new AppError('ALREADY_EXISTS', `Too many files named like ${name} in ${dir}.`);
  }
}
