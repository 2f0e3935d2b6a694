// Server rendering of a signed-in web console page (loaded by `maru serve`, built to
// dist/ssr): the app's own components, rendered in Node from the same seed the browser
// starts from (store/app-store.ts signedInSeed), so the library is in the HTML and paints
// before any script has run; the browser then hydrates it. No browser globals here.
import { renderToString } from 'react-dom/server';
import { I18nextProvider } from 'react-i18next';
import type { i18n } from 'i18next';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { App } from '../app/App';
import { chooseLanguage, createI18n, type Language } from '../i18n/i18n';
import { AppStoreProvider, createAppStore, signedInSeed } from '../store/app-store';

const instances = new Map<Language, i18n>();

/** The language the browser will pick: the user's (cookie) or the first Korean/other locale it asks for. */
export function languageForRequest(cookie: string | null | undefined, acceptLanguage: string | undefined): Language {
  return chooseLanguage(
    cookie,
    (acceptLanguage ?? '').split(',').map((part) => part.split(';')[0] ?? ''),
  );
}

/** The markup inside `#root` for a signed-in user whose library is `vms`, in `lang`. */
export function renderSignedInPage(vms: VmListEntry[], lang: Language): string {
  let instance = instances.get(lang);
  if (!instance) {
    instance = createI18n(lang);
    instances.set(lang, instance);
  }
  return renderToString(
    <I18nextProvider i18n={instance}>
      <AppStoreProvider value={createAppStore(signedInSeed(vms))}>
        <App />
      </AppStoreProvider>
    </I18nextProvider>,
  );
}
