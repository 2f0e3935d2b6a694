// What the web console serves outside its API: the renderer bundle (public: it holds no data,
// the login screen is part of it) except source maps, which only a signed-in session gets; a
// signed-in user's page with the library in it; and the library list over plain HTTP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlServices } from '../../src-shared/contracts/control';
import { INITIAL_LIST_ELEMENT_ID, LANGUAGE_COOKIE, RENDERED_LANGUAGE_ATTRIBUTE } from '../../src-shared/web-console';
import { json, parseCookies } from './http-replies';
import type { PageRenderer } from './page-renderer';
import type { Session } from './session-store';
import { jsonForHtml, serveStatic } from './static-files';

export interface PagesOptions {
  readonly rendererDir: string;
  readonly services: ControlServices;
  /** Renders a signed-in user's page on the server (page-renderer.ts); without it the browser does. */
  readonly pageRenderer: PageRenderer | null;
  readonly log: (line: string) => void;
}

export class Pages {
  constructor(private readonly opts: PagesOptions) {}

  /**
   * A GET/HEAD outside /api: the app shell and its assets. For a signed-in user the page
   * carries the library list (a JSON data block, streamed after the shell), so the library
   * paints without a round trip; everyone else gets the bare shell. Source maps (`*.map`)
   * hold the app's source text: 401 without a session.
   */
  async serve(req: IncomingMessage, res: ServerResponse, url: URL, session: Session | undefined): Promise<void> {
    const renderer = session ? this.opts.pageRenderer : null;
    const language = renderer?.languageFor(
      parseCookies(req.headers.cookie)[LANGUAGE_COOKIE],
      req.headers['accept-language'],
    );
    await serveStatic(this.opts.rendererDir, url.pathname, res, {
      sourceMaps: session !== undefined,
      ...(session ? { page: { language, content: () => this.signedInPage(renderer, language) } } : {}),
    });
  }

  /** GET /api/library/list: the list over plain HTTP (when the page came without it). Same data as library.list. */
  async libraryList(res: ServerResponse): Promise<void> {
    const value = await this.opts.services.library.list();
    json(res, 200, { ok: true, value });
  }

  /**
   * What a signed-in user's page carries: the library list as a JSON data block and, when a
   * page renderer is there, the app's markup for it (rendered in `language`, said on the block
   * so the browser hydrates only when it shows the same language). A failure leaves the page bare.
   */
  private async signedInPage(
    renderer: PageRenderer | null,
    language: 'en' | 'ko' | undefined,
  ): Promise<{ rootHtml: string; bodyEndHtml: string }> {
    const list = await this.opts.services.library.list().catch(() => null);
    if (!list) return { rootHtml: '', bodyEndHtml: '' };
    let rootHtml = '';
    if (renderer && language) {
      try {
        rootHtml = renderer.render(list, language);
      } catch (err) {
        this.opts.log(`maru serve: rendering the page failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const rendered = rootHtml ? ` ${RENDERED_LANGUAGE_ATTRIBUTE}="${language}"` : '';
    return {
      rootHtml,
      bodyEndHtml: `<script type="application/json" id="${INITIAL_LIST_ELEMENT_ID}"${rendered}>${jsonForHtml(list)}</script>`,
    };
  }
}
