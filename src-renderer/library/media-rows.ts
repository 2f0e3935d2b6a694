// What the media manager shows of one medium, as pure functions of the inventory entry: its file
// name, its status word, which of its uses are the VMs' current settings, how each use is worded
// (an i18n key and its values), and why Remove is not offered.
import type { MediaInventory, MediumEntry, MediumType, MediumUse } from '../../src-shared/contracts/media';

export type MediumStatus = 'missing' | 'unreadable' | 'inUse' | 'orphan' | 'unused';

/** The last part of a path (POSIX or Windows separators). */
export function fileName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** Missing and unreadable come first (they need attention), then in use, then orphan. */
export function mediumStatus(m: MediumEntry): MediumStatus {
  if (!m.exists) return 'missing';
  if (m.problem) return 'unreadable';
  if (m.usedBy.length > 0) return 'inUse';
  return m.orphan ? 'orphan' : 'unused';
}

/** A VM's current settings hold it (not only a snapshot, not only through an overlay): Release has work. */
export function usedNow(m: MediumEntry): boolean {
  return m.usedBy.some((u) => u.snapshot === null && u.via === null);
}

/** One use in words: the i18n key (`media.use.*`) and its values. */
export function useText(u: MediumUse): { key: string; values: Record<string, string> } {
  const values: Record<string, string> = { vm: u.vmName, drive: u.driveId };
  if (u.snapshot) values['snapshot'] = u.snapshot.name;
  const kind = u.snapshot ? (u.via ? 'snapshotVia' : 'snapshot') : u.via ? 'via' : 'now';
  return { key: `media.use.${kind}`, values };
}

/** Why Remove is not offered for a medium (null: it is an orphan and may be removed). */
export function removeRefusal(m: MediumEntry): 'missing' | 'inUse' | 'outside' | null {
  if (m.orphan) return null;
  if (!m.exists) return 'missing';
  if (m.usedBy.length > 0) return 'inUse';
  return 'outside';
}

/** The media of one kind, in the inventory's order (by path). */
export function mediaOfType(inventory: MediaInventory | null, type: MediumType): MediumEntry[] {
  return inventory ? inventory.media.filter((m) => m.type === type) : [];
}
