// The web console's server-rendered page with the real parts: the built renderer (dist/renderer)
// and its server-rendering bundle (dist/ssr, both from `npm run build`), a real library, a real
// WebServer. What a signed-in browser gets: the app's markup for its library, in its language,
// names escaped, and the list as data; a renderer that fails leaves a working bare page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebServer } from '../../../src-main/server/web-server';
import { setPassword } from '../../../src-main/server/password-store';
import { loadPageRenderer, type PageRenderer } from '../../../src-main/server/page-renderer';
import { Library } from '../../../src-main/services/library/library-service';
import { createControlServices } from '../../../src-main/services/control-services';

const PASSWORD = 'page render password';
const RENDERER_DIR = path.resolve('dist/renderer');
let home: string;
let library: Library;
let renderer: PageRenderer | null;
const servers: WebServer[] = [];

async function serve(pageRenderer: PageRenderer | null, log: (l: string) => void = () => undefined) {
  const server = new WebServer({
    host: '127.0.0.1',
    port: 0,
    maruHome: home,
    rendererDir: RENDERER_DIR,
    services: {
      ...createControlServices({ maruHome: home, confineMedia: true }).services,
      library,
      host: { info: () => Promise.reject(new Error('not used')), limits: () => Promise.reject(new Error('not used')) },
    },
    pageRenderer,
    log,
  });
  servers.push(server);
  const base = (await server.start()).url;
  const login = await fetch(`${base}api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: base.replace(/\/$/, '') },
    body: JSON.stringify({ password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  return { base, cookie };
}

beforeAll(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'maru-ssr-'));
  await setPassword(home, PASSWORD);
  library = new Library({ maruHome: home });
  await library.create({ name: 'Tom & Jerry', os: 'dos', diskGiB: 0 });
  await library.create({ name: 'Server 2025', os: 'linux64', diskGiB: 0 });
  const bad = path.join(home, 'vms', '11111111-2222-4333-8444-555555555555');
  mkdirSync(bad, { recursive: true });
  writeFileSync(path.join(bad, 'vm.json'), '</script><img src=x onerror=alert(1)>');
  renderer = await loadPageRenderer(RENDERER_DIR, (l) => {
    throw new Error(l);
  });
});

afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(home, { recursive: true, force: true });
});

describe('server-rendered web console page', () => {
  it('the built bundle loads', () => {
    expect(renderer, 'dist/ssr/render-page.js (npm run build)').not.toBeNull();
  });

  it("a signed-in page has the library's markup (names escaped) and the list, in English", async () => {
    const { base, cookie } = await serve(renderer);
    const res = await fetch(base, { headers: { Cookie: cookie, 'Accept-Language': 'en-US,en;q=0.9' } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<html lang="en"');
    const root = /<div id="root">(.*?)<\/div>\s*<script type="application\/json"/s.exec(html)?.[1] ?? '';
    expect(root).toContain('role="listbox"');
    expect(root).toContain('>Tom &amp; Jerry<');
    expect(root).toContain('>Server 2025<');
    expect(root).toContain('Inaccessible');
    expect(root).toContain('3 VMs');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('data-rendered-language="en"');
    // Anonymous: the bare shell.
    const anonymous = await (await fetch(base)).text();
    expect(anonymous).toContain('<div id="root"></div>');
    expect(anonymous).not.toContain('Tom');
  });

  it("in Korean for a browser that asks for it, and in the user's pick (cookie) over the browser's", async () => {
    const { base, cookie } = await serve(renderer);
    const ko = await (await fetch(base, { headers: { Cookie: cookie, 'Accept-Language': 'ko-KR,ko;q=0.9' } })).text();
    expect(ko).toContain('<html lang="ko"');
    expect(ko).toContain('data-rendered-language="ko"');
    expect(ko).toContain('가상 머신');
    expect(ko).not.toContain('>Virtual machines<');
    const picked = await (
      await fetch(base, { headers: { Cookie: `${cookie}; maru_lang=en`, 'Accept-Language': 'ko-KR' } })
    ).text();
    expect(picked).toContain('data-rendered-language="en"');
    expect(picked).toContain('>Virtual machines<');
  });

  it('a renderer that fails leaves the list for the browser to render, and says so in the log', async () => {
    const lines: string[] = [];
    const failing: PageRenderer = {
      languageFor: () => 'en',
      render: () => {
        throw new Error('render exploded');
      },
    };
    const { base, cookie } = await serve(failing, (l) => lines.push(l));
    const html = await (await fetch(base, { headers: { Cookie: cookie } })).text();
    expect(html).toContain('<div id="root"></div>');
    expect(html).toContain('<script type="application/json" id="maru-initial-list">');
    expect(html).not.toContain('data-rendered-language');
    expect(lines.join('\n')).toContain('render exploded');
  });
});
