// OS family icons drawn here as SVG symbols (one sprite in the page, each row <use>s it: 500
// rows stay cheap). Families: modern Windows, classic Windows, Linux, DOS, other.
import type { PresetId } from '../../src-shared/os-presets';

export type OsIconName = 'windows' | 'windows-classic' | 'linux' | 'dos' | 'other';

export function osIconOf(os: PresetId | null): OsIconName {
  switch (os) {
    case 'windows11':
    case 'windows10':
      return 'windows';
    case 'windows7':
    case 'windowsxp':
    case 'windows98':
      return 'windows-classic';
    case 'linux64':
    case 'linux32':
      return 'linux';
    case 'dos':
      return 'dos';
    default:
      return 'other';
  }
}

/** The symbols, rendered once at the top of the app. */
export function OsIconSprite() {
  return (
    <svg width="0" height="0" className="sprite" aria-hidden="true" focusable="false">
      <symbol id="os-windows" viewBox="0 0 32 32">
        <rect x="3" y="3" width="12" height="12" rx="1" fill="#1e88e5" />
        <rect x="17" y="3" width="12" height="12" rx="1" fill="#1e88e5" />
        <rect x="3" y="17" width="12" height="12" rx="1" fill="#1e88e5" />
        <rect x="17" y="17" width="12" height="12" rx="1" fill="#1e88e5" />
      </symbol>
      <symbol id="os-windows-classic" viewBox="0 0 32 32">
        <path d="M3 6 Q9 3 15 6 V15 Q9 12 3 15 Z" fill="#e53935" />
        <path d="M17 6 Q23 9 29 6 V15 Q23 18 17 15 Z" fill="#43a047" />
        <path d="M3 17 Q9 14 15 17 V26 Q9 23 3 26 Z" fill="#1e88e5" />
        <path d="M17 17 Q23 20 29 17 V26 Q23 29 17 26 Z" fill="#fdd835" />
      </symbol>
      <symbol id="os-linux" viewBox="0 0 32 32">
        <ellipse cx="16" cy="18" rx="9" ry="11" fill="#263238" />
        <ellipse cx="16" cy="21" rx="6" ry="7.5" fill="#fafafa" />
        <circle cx="13" cy="11" r="2" fill="#fafafa" />
        <circle cx="19" cy="11" r="2" fill="#fafafa" />
        <circle cx="13.4" cy="11.3" r="0.9" fill="#263238" />
        <circle cx="18.6" cy="11.3" r="0.9" fill="#263238" />
        <path d="M13 14 L16 16.5 L19 14 Z" fill="#ffa000" />
        <ellipse cx="11" cy="29" rx="4" ry="1.8" fill="#ffa000" />
        <ellipse cx="21" cy="29" rx="4" ry="1.8" fill="#ffa000" />
      </symbol>
      <symbol id="os-dos" viewBox="0 0 32 32">
        <rect x="2" y="4" width="28" height="24" rx="3" fill="#212121" />
        <path d="M7 11 L12 15 L7 19" stroke="#76ff03" strokeWidth="2.2" fill="none" strokeLinecap="round" />
        <rect x="14" y="18" width="9" height="2.4" fill="#76ff03" />
      </symbol>
      <symbol id="os-other" viewBox="0 0 32 32">
        <circle cx="16" cy="16" r="13" fill="#90a4ae" />
        <circle cx="16" cy="16" r="8" fill="#cfd8dc" />
        <circle cx="16" cy="16" r="3" fill="#fafafa" stroke="#607d8b" strokeWidth="1" />
      </symbol>
    </svg>
  );
}

export function OsIcon({ os, size = 24 }: { readonly os: PresetId | null; readonly size?: number }) {
  return (
    <svg className="os-icon" width={size} height={size} aria-hidden="true" focusable="false">
      <use href={`#os-${osIconOf(os)}`} />
    </svg>
  );
}
