// The page's own origin, maru-app://app/: a privileged scheme serving the files of
// dist/renderer only (no path out of it) with the desktop CSP on every response — file://
// pages get no CSP header. Also the check every IPC handler runs on its sender frame.
import { protocol, type WebFrameMain } from 'electron';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DESKTOP_RENDERER_CSP } from '../services/renderer-csp';

export const APP_SCHEME = 'maru-app';
const APP_HOST = 'app';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/** Whether `url` is a page of ours (maru-app://app/…). */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** Whether an IPC message comes from our own page (not a navigated, remote or destroyed frame). */
export function isAppFrame(frame: WebFrameMain | null | undefined): boolean {
  return frame !== null && frame !== undefined && isAppUrl(frame.url);
}

/** Declares the scheme standard and secure (origin, relative URLs, secure context). Before `ready`. */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

/** Serves `rendererDir` on the scheme. After `ready`. */
export function serveRenderer(rendererDir: string): void {
  protocol.handle(APP_SCHEME, (request) => rendererResponse(path.resolve(rendererDir), request));
}

function reply(status: number, body: BodyInit | null, type = 'text/plain; charset=utf-8'): Response {
  return new Response(body, {
    status,
    headers: {
      'Content-Type': type,
      'Content-Security-Policy': DESKTOP_RENDERER_CSP,
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

async function rendererResponse(root: string, request: Request): Promise<Response> {
  if (!isAppUrl(request.url)) return reply(404, 'Not found.');
  if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'Method not allowed.');
  let wanted: string;
  try {
    wanted = decodeURIComponent(new URL(request.url).pathname);
  } catch {
    return reply(400, 'Bad path.');
  }
  if (wanted === '/') wanted = '/index.html';
  const file = path.join(root, wanted);
  const inside = path.relative(root, file);
  // An encoded "..%2F" survives URL normalisation and is decoded here: refuse anything outside.
  if (wanted.includes('\0') || inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
    console.warn(`maru: refused a request outside the renderer: ${request.url}`);
    return reply(404, 'Not found.');
  }
  try {
    const body = await readFile(file);
    return reply(200, body, CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
  } catch {
    return reply(404, 'Not found.');
  }
}
