// Renderer entry: i18n, transport detection, store init, then React.
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { setupI18n } from './i18n/i18n';
import { detectTransport } from './transport/detect-transport';
import { useAppStore } from './store/app-store';
import './styles.css';

window.addEventListener('unhandledrejection', (e) => console.error('maru renderer: unhandled rejection', e.reason));

performance.mark('maru:boot');
await setupI18n();
performance.mark('maru:i18n');
const root = createRoot(document.getElementById('root')!);
root.render(<App />);
await useAppStore.getState().init(detectTransport());
