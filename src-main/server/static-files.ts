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
   * Serve source maps (`*.map`: the app's source text)? Without, a map is answered 401: the
   * web console sends them to signed-in sessions only.
   */
  readonly sourceMaps?: boolean;
  /**
   * A page made for its user, applied only when index.html is served (the web console's
   * signed-in page: the app's markup inside `#root`, the library list before `</body>`). The
   * page is streamed: everything up to `#root`'s content goes out at once (the browser commits
   * the page and loads the scripts while the content is computed), the rest when it is ready.
   * Such a page is `no-store`.
   */
  readonly page?: {
    /** The page's `<html lang>` (the language its markup is in). */
    readonly language?: string | undefined;
    readonly content: () => Promise<{ readonly rootHtml: string; readonly bodyEndHtml: string }>;
  };
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
  if (!options.sourceMaps && path.extname(file).toLowerCase() === '.map') {
    res
      .writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
      .end('Source maps are for signed-in users. Log in first.');
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
  if (options.page && path.basename(file) === 'index.html') {
    await servePage(file, type, res, options.page);
    return;
  }
  const immutable = file.includes(`${path.sep}assets${path.sep}`);
  const sourceMap = path.extname(file).toLowerCase() === '.map';
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': st.size,
    // A source map is for this signed-in user only: no shared cache keeps it.
    'Cache-Control': sourceMap ? 'private, no-store' : immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  createReadStream(file).pipe(res);
}

const ROOT_OPEN = '<div id="root">';

async function servePage(file: string, type: string, res: ServerResponse, page: NonNullable<StaticOptions['page']>) {
  let html = await readFile(file, 'utf8');
  if (page.language) html = html.replace(/<html lang="[^"]*"/, `<html lang="${page.language}"`);
  const rootAt = html.indexOf(ROOT_OPEN);
  let bodyEndAt = html.lastIndexOf('</body>');
  if (bodyEndAt < 0) bodyEndAt = html.length;
  // Markup goes into #root (when the shell has one), the data before </body>.
  const hasRoot = rootAt >= 0 && rootAt < bodyEndAt;
  const split = hasRoot ? rootAt + ROOT_OPEN.length : bodyEndAt;
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.write(html.slice(0, split));
  const content = await page.content().catch(() => ({ rootHtml: '', bodyEndHtml: '' }));
  const rootHtml = hasRoot ? content.rootHtml : '';
  res.end(rootHtml + html.slice(split, bodyEndAt) + content.bodyEndHtml + html.slice(bodyEndAt));
}
