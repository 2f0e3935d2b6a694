// i18next setup: English and Korean, following the browser / OS locale unless the user
// picked one (kept in localStorage: a UI preference, not VM data; mirrored in a cookie so
// the web console's server renders the page in it too).
import i18next, { type i18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import { LANGUAGE_COOKIE } from '../../src-shared/web-console';
import { en } from './en';
import { ko } from './ko';

export const LANGUAGES = ['en', 'ko'] as const;
export type Language = (typeof LANGUAGES)[number];
const STORAGE_KEY = 'maru.language';
const resources = { en: { translation: en }, ko: { translation: ko } };

/** The user's pick when there is one, else Korean when any preferred locale is Korean. */
export function chooseLanguage(saved: string | null | undefined, preferred: readonly string[]): Language {
  if (saved === 'en' || saved === 'ko') return saved;
  return preferred.some((l) => l.trim().toLowerCase().startsWith('ko')) ? 'ko' : 'en';
}

export function initialLanguage(): Language {
  return chooseLanguage(localStorage.getItem(STORAGE_KEY), navigator.languages);
}

export async function setupI18n(): Promise<typeof i18next> {
  await i18next.use(initReactI18next).init({
    resources,
    lng: initialLanguage(),
    fallbackLng: false,
    interpolation: { escapeValue: false },
  });
  document.documentElement.lang = i18next.language;
  return i18next;
}

/** A separate, ready instance in one language (server rendering: no browser globals). */
export function createI18n(lang: Language): i18n {
  const instance = i18next.createInstance();
  void instance.init({
    resources,
    lng: lang,
    fallbackLng: false,
    interpolation: { escapeValue: false },
    initAsync: false,
  });
  return instance;
}

export async function changeLanguage(lang: Language): Promise<void> {
  localStorage.setItem(STORAGE_KEY, lang);
  document.cookie = `${LANGUAGE_COOKIE}=${lang}; Path=/; Max-Age=31536000; SameSite=Strict`;
  await i18next.changeLanguage(lang);
  document.documentElement.lang = lang;
}
