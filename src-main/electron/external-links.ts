// Links the page may open in the system browser: a fixed list of https places (QEMU's
// downloads, Microsoft's Windows 11 media); anything else is refused and logged, so a page
// can never make the OS open an arbitrary URL or scheme.
import { shell } from 'electron';

/** URL prefixes (scheme, host and path start; compared after URL normalisation). */
export const EXTERNAL_LINK_ALLOWLIST: readonly string[] = [
  'https://www.qemu.org/',
  'https://qemu.weilnetz.de/', // QEMU for Windows, linked from qemu.org's download page
  'https://www.microsoft.com/software-download/',
];

export function isAllowedExternalUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' || u.username !== '' || u.password !== '') return false;
  return EXTERNAL_LINK_ALLOWLIST.some((prefix) => u.href.startsWith(prefix));
}

/** Opens `url` in the system browser when it is on the list; returns whether it did. */
export function openExternalLink(url: string): boolean {
  if (!isAllowedExternalUrl(url)) {
    console.warn(`maru: refused to open ${JSON.stringify(url.slice(0, 200))}: not on the external link allowlist.`);
    return false;
  }
  void shell.openExternal(url).catch((err: unknown) => console.error(`maru: could not open ${url}:`, err));
  return true;
}
