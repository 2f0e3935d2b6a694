// Sizes as people read them: binary units (GiB, MiB), at most one decimal. Pure.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 || v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  return `${text} ${UNITS[u]}`;
}

/** Memory sizes given in MiB: from 1 GiB up in GiB (one decimal unless whole). */
export function formatMiB(mib: number): string {
  if (!Number.isFinite(mib)) return '—';
  if (mib < 1024) return `${mib} MiB`;
  const gib = mib / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}
