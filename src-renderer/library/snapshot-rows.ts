// A snapshot tree as the rows the Snapshots tab shows: depth first, children in the order they
// were taken, each with its level; the "Current state" row is the last child of the snapshot
// the VM's state comes from (a root row when there is none).
import type { SnapshotInfo, SnapshotTree } from '../../src-shared/contracts/snapshots';

export type SnapshotRow =
  | { readonly kind: 'snapshot'; readonly key: string; readonly level: number; readonly snapshot: SnapshotInfo }
  | { readonly kind: 'current'; readonly key: typeof CURRENT_ROW; readonly level: number };

/** The key of the "Current state" row (snapshot ids are UUIDs: no clash). */
export const CURRENT_ROW = 'current-state';

export function snapshotRows(tree: Pick<SnapshotTree, 'snapshots' | 'currentId'>): SnapshotRow[] {
  const ids = new Set(tree.snapshots.map((s) => s.id));
  const children = new Map<string | null, SnapshotInfo[]>();
  for (const s of tree.snapshots) {
    // A parent that is not in the file (a damaged or hand-edited one) makes the snapshot a root.
    const parent = s.parentId !== null && ids.has(s.parentId) && s.parentId !== s.id ? s.parentId : null;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const rows: SnapshotRow[] = [];
  const seen = new Set<string>();
  let currentPlaced = false;
  const visit = (s: SnapshotInfo, level: number): void => {
    if (seen.has(s.id)) return;
    seen.add(s.id);
    rows.push({ kind: 'snapshot', key: s.id, level, snapshot: s });
    for (const c of children.get(s.id) ?? []) visit(c, level + 1);
    if (s.id === tree.currentId) {
      rows.push({ kind: 'current', key: CURRENT_ROW, level: level + 1 });
      currentPlaced = true;
    }
  };
  for (const root of children.get(null) ?? []) visit(root, 1);
  // Snapshots only reachable through a cycle of parents: shown as roots rather than lost.
  for (const s of tree.snapshots) visit(s, 1);
  if (!currentPlaced) rows.push({ kind: 'current', key: CURRENT_ROW, level: 1 });
  return rows;
}

/** The row above `index` one level up (ArrowLeft), or -1. */
export function parentRowIndex(rows: readonly SnapshotRow[], index: number): number {
  const level = rows[index]?.level ?? 1;
  for (let i = index - 1; i >= 0; i--) if (rows[i]!.level < level) return i;
  return -1;
}
