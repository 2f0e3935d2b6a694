// Memory sizes as people read them: binary units (GiB, MiB), at most one decimal. Pure.
// Byte counts use the shared formatter, src-shared/format-bytes.ts.

/** Memory sizes given in MiB: from 1 GiB up in GiB (one decimal unless whole). */
export function formatMiB(mib: number): string {
  if (!Number.isFinite(mib)) return '—';
  if (mib < 1024) return `${mib} MiB`;
  const gib = mib / 1024;
  return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
}
