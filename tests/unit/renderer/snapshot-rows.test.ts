// The Snapshots tab's rows: each snapshot under its parent in the order taken, "Current state"
// as the last child of the snapshot the VM's state comes from, and files the tree cannot
// describe (unknown parents, a cycle) still show every snapshot once.
import { describe, expect, it } from 'vitest';
import { CURRENT_ROW, parentRowIndex, snapshotRows } from '../../../src-renderer/library/snapshot-rows';
import type { SnapshotInfo } from '../../../src-shared/contracts/snapshots';

function snap(id: string, parentId: string | null): SnapshotInfo {
  return {
    id,
    name: `S ${id}`,
    description: '',
    parentId,
    createdAt: '2024-05-01T10:00:00.000Z',
    kind: 'disk',
    config: {} as SnapshotInfo['config'],
    hasThumbnail: false,
    stateBytes: 0,
  };
}

const shape = (rows: ReturnType<typeof snapshotRows>) => rows.map((r) => `${r.key}@${r.level}`);

describe('snapshotRows', () => {
  it('puts the current state at the root of an empty tree', () => {
    expect(shape(snapshotRows({ snapshots: [], currentId: null }))).toEqual([`${CURRENT_ROW}@1`]);
  });

  it('nests children under their parent, and the current state last under its snapshot', () => {
    const snapshots = [snap('a', null), snap('b', 'a'), snap('c', 'b'), snap('d', 'a')];
    expect(shape(snapshotRows({ snapshots, currentId: 'c' }))).toEqual([
      'a@1',
      'b@2',
      'c@3',
      `${CURRENT_ROW}@4`,
      'd@2',
    ]);
    // Restored to a: the current state is a's last child, after b's and d's branches.
    expect(shape(snapshotRows({ snapshots, currentId: 'a' }))).toEqual([
      'a@1',
      'b@2',
      'c@3',
      'd@2',
      `${CURRENT_ROW}@2`,
    ]);
  });

  it('shows snapshots with an unknown parent or in a cycle as roots, each once', () => {
    const snapshots = [snap('x', 'gone'), snap('p', 'q'), snap('q', 'p')];
    const rows = shape(snapshotRows({ snapshots, currentId: 'missing' }));
    expect(rows).toEqual(['x@1', 'p@1', 'q@2', `${CURRENT_ROW}@1`]);
  });

  it('finds the parent row for ArrowLeft', () => {
    const rows = snapshotRows({ snapshots: [snap('a', null), snap('b', 'a'), snap('c', 'b')], currentId: 'a' });
    expect(parentRowIndex(rows, 2)).toBe(1);
    expect(parentRowIndex(rows, 3)).toBe(0);
    expect(parentRowIndex(rows, 0)).toBe(-1);
  });
});
