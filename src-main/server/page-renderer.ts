// The web console's server rendering of a signed-in page: the renderer's own components, built
// for Node next to the renderer bundle (dist/ssr/render-page.js, from src-renderer/ssr). Optional:
// without it (not built, or it fails to load) pages are served bare and the browser renders.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VmListEntry } from '../../src-shared/contracts/library';

export interface PageRenderer {
  /** The language the browser will show: the user's pick (cookie) or its Accept-Language. */
  languageFor(languageCookie: string | undefined, acceptLanguage: string | undefined): 'en' | 'ko';
  /** The markup inside `#root` for a signed-in user with this library. */
  render(vms: VmListEntry[], language: 'en' | 'ko'): string;
}

interface RenderModule {
  languageForRequest(cookie: string | undefined, acceptLanguage: string | undefined): 'en' | 'ko';
  renderSignedInPage(vms: VmListEntry[], lang: 'en' | 'ko'): string;
}

/** The server-rendering bundle that belongs with the renderer in `rendererDir`. */
export function pageRendererPath(rendererDir: string): string {
  return path.join(rendererDir, '..', 'ssr', 'render-page.js');
}

/**
 * Loads the server-rendering bundle and renders once (the first real page then costs no
 * compilation). Null when there is none; a bundle that fails is reported through `log`.
 */
export async function loadPageRenderer(rendererDir: string, log: (line: string) => void): Promise<PageRenderer | null> {
  const file = pageRendererPath(rendererDir);
  if (!existsSync(file)) return null;
  try {
    const mod = (await import(pathToFileURL(file).href)) as RenderModule;
    mod.renderSignedInPage([], 'en');
    return {
      languageFor: (cookie, acceptLanguage) => mod.languageForRequest(cookie, acceptLanguage),
      render: (vms, language) => mod.renderSignedInPage(vms, language),
    };
  } catch (err) {
    log(`maru serve: server rendering is off (${file}: ${err instanceof Error ? err.message : String(err)})`);
    return null;
  }
}
