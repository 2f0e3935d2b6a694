// The web console's login screen: password, or the one-time token `maru serve` printed.
import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useAppStore } from '../store/app-store';

export function LoginView() {
  const { t } = useTranslation();
  const login = useAppStore((s) => s.login);
  const error = useAppStore((s) => s.sessionError);
  const [useToken, setUseToken] = useState(false);
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    await login(useToken ? { token: secret } : { password: secret });
    setBusy(false);
  }

  return (
    <main className="login">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">{t('login.title')}</h1>
        <label>
          {useToken ? t('login.token') : t('login.password')}
          <input
            type="password"
            name={useToken ? 'token' : 'password'}
            autoComplete={useToken ? 'off' : 'current-password'}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            autoFocus
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          {t('login.submit')}
        </button>
        <button type="button" className="link" onClick={() => setUseToken(!useToken)}>
          {useToken ? t('login.usePassword') : t('login.useToken')}
        </button>
        {error && (
          <p role="alert" className="error">
            {t('login.failed', { message: error })}
          </p>
        )}
      </form>
    </main>
  );
}
