// Renderer entry: i18n, transport detection, the store, then React. A signed-in web console
// page comes with the library list and (normally) its server-rendered markup: the store starts
// from that list and React hydrates the markup when it was rendered in this page's language
// (else it renders afresh over it).
import { createRoot, hydrateRoot } from 'react-dom/client';
import { App } from './app/App';
import { setupI18n } from './i18n/i18n';
import { detectTransport } from './transport/detect-transport';
import { AppStoreProvider, createAppStore, signedInSeed } from './store/app-store';
import { WebTransport } from './transport/web-transport';
import './styles.css';

window.addEventListener('unhandledrejection', (e) => console.error('maru renderer: unhandled rejection', e.reason));

performance.mark('maru:boot');
const i18n = await setupI18n();
performance.mark('maru:i18n');
const transport = detectTransport();
const page = transport instanceof WebTransport ? transport.initialPage() : null;
const store = createAppStore(page ? signedInSeed(page.list) : {});
const app = (
  <AppStoreProvider value={store}>
    <App />
  </AppStoreProvider>
);
const rootElement = document.getElementById('root')!;
if (page?.renderedLanguage === i18n.language && rootElement.firstElementChild) {
  hydrateRoot(rootElement, app, {
    onRecoverableError: (error) => console.warn('maru renderer: the server-rendered page differed', error),
  });
} else {
  rootElement.replaceChildren();
  createRoot(rootElement).render(app);
}
await store.getState().init(transport, page?.list);
