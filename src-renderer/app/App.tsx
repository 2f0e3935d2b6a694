// The app shell: login gate (web console), header with language switch and logout, and
// the library.
import { useTranslation } from 'react-i18next';
import { useAppStore } from '../store/app-store';
import { LoginView } from '../views/LoginView';
import { LibraryView } from '../views/LibraryView';
import { changeLanguage, LANGUAGES, type Language } from '../i18n/i18n';

export function App() {
  const { t, i18n } = useTranslation();
  const session = useAppStore((s) => s.session);
  const transport = useAppStore((s) => s.transport);
  const logout = useAppStore((s) => s.logout);
  const connectionError = useAppStore((s) => s.connectionError);

  const languagePicker = (
    <label className="language">
      {t('app.language')}
      <select value={i18n.language} onChange={(e) => void changeLanguage(e.target.value as Language)}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {l === 'en' ? 'English' : '한국어'}
          </option>
        ))}
      </select>
    </label>
  );

  if (session === 'unknown') return <p className="muted">{t('app.loading')}</p>;
  if (session === 'login-required') {
    return (
      <>
        <header className="app-header">
          <span className="brand">{t('app.title')}</span>
          {languagePicker}
        </header>
        <LoginView />
      </>
    );
  }
  return (
    <>
      <header className="app-header">
        <span className="brand">{t('app.title')}</span>
        {languagePicker}
        {transport?.kind === 'web' && (
          <button type="button" onClick={() => void logout()}>
            {t('app.logout')}
          </button>
        )}
      </header>
      {connectionError && (
        <p role="status" className="error banner">
          {t('errors.disconnected', { reason: connectionError })}
        </p>
      )}
      <LibraryView />
    </>
  );
}
