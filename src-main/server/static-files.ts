// Serves the built renderer bundle: fixed content types, no directory listing, no path
// escaping the bundle folder, and the SPA shell for unknown non-API paths.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json; charset=utf-8',
};

export interface StaticOptions {
  /**
   * Markup inserted at the start of index.html's <head>, asked for only when index.html is
   * served (the web console puts a signed-in user's library list there). Such a page is
   * served `no-store`.
   */
  readonly headHtml?: () => Promise<string>;
}

/** JSON for a `<script type="application/json">` data block: no `<` can end the element early. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export async function serveStatic(
  root: string,
  urlPath: string,
  res: ServerResponse,
  options: StaticOptions = {},
): Promise<void> {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.split('?')[0] ?? '/');
  } catch {
    res.writeHead(400).end('Bad path');
    return;
  }
  if (rel.includes('\0')) {
    res.writeHead(400).end('Bad path');
    return;
  }
  let file = path.resolve(root, '.' + path.posix.normalize('/' + rel));
  if (!file.startsWith(path.resolve(root) + path.sep) && file !== path.resolve(root)) {
    res.writeHead(403).end('Forbidden');
    return;
  }
  let st = await stat(file).catch(() => null);
  if (!st || st.isDirectory()) {
    // Client-side routes get the app shell; missing assets a 404.
    if (path.extname(rel) && !rel.endsWith('.html')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found');
      return;
    }
    file = path.join(root, 'index.html');
    st = await stat(file).catch(() => null);
    if (!st) {
      res
        .writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end('The Maru web UI is not built. Run `npm run build` in the Maru folder.');
      return;
    }
  }
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const head = options.headHtml && path.basename(file) === 'index.html' ? await options.headHtml() : '';
  if (head) {
    const html = (await readFile(file, 'utf8')).replace('<head>', `<head>${head}`);
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(html),
      'Cache-Control': 'no-store',
    });
    res.end(html);
    return;
  }
  const immutable = file.includes(`${path.sep}assets${path.sep}`);
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': st.size,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  createReadStream(file).pipe(res);
}
