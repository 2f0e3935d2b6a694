// OS family icons: their drawings are the files assets/os/<family>.svg (one source of truth),
// put into one sprite of <symbol>s at the top of the page; each row <use>s it, so 500 rows stay
// cheap. Families: modern Windows, classic Windows, Linux, DOS, other.
import type { PresetId } from '../../src-shared/os-presets';
import dosSvg from '../../assets/os/dos.svg?raw';
import linuxSvg from '../../assets/os/linux.svg?raw';
import otherSvg from '../../assets/os/other.svg?raw';
import windowsClassicSvg from '../../assets/os/windows-classic.svg?raw';
import windowsSvg from '../../assets/os/windows.svg?raw';

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

/** Every family's drawing, as the text of its assets/os file (bundled at build time). */
export const OS_ICON_SOURCES: Readonly<Record<OsIconName, string>> = {
  windows: windowsSvg,
  'windows-classic': windowsClassicSvg,
  linux: linuxSvg,
  dos: dosSvg,
  other: otherSvg,
};

/** A drawing's viewBox and the markup inside its root <svg>, to become a <symbol>. */
export function symbolPartsOf(name: string, svg: string): { viewBox: string; body: string } {
  const open = /<svg\b([^>]*)>/.exec(svg);
  const close = svg.lastIndexOf('</svg>');
  const viewBox = open ? /\bviewBox="([^"]+)"/.exec(open[1] ?? '')?.[1] : undefined;
  if (!open || close < open.index || !viewBox) {
    // A build-time asset: a broken one is a bug in the repository, not a user error.
    throw new Error(
      `assets/os/${name}.svg is not a drawing Maru can use: it needs one root <svg viewBox="…">…</svg>. Fix the file.`,
    );
  }
  const body = svg
    .slice(open.index + open[0].length, close)
    .replace(/<!--[\s\S]*?-->/g, '')
    .trim();
  return { viewBox, body };
}

const SYMBOLS = (Object.keys(OS_ICON_SOURCES) as OsIconName[]).map((name) => ({
  name,
  ...symbolPartsOf(name, OS_ICON_SOURCES[name]),
}));

/** The symbols, rendered once at the top of the app. */
export function OsIconSprite() {
  return (
    <svg width="0" height="0" className="sprite" aria-hidden="true" focusable="false">
      {SYMBOLS.map((s) => (
        // Our own files, bundled at build time (never user input); plain SVG shapes, no script.
        <symbol key={s.name} id={`os-${s.name}`} viewBox={s.viewBox} dangerouslySetInnerHTML={{ __html: s.body }} />
      ))}
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
