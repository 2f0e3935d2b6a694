// The Snapshots tab of a VM: its snapshot tree (thumbnail, name, time, kind, description; the
// "Current state" row under the snapshot it comes from) as a keyboard-driven tree, and take /
// restore / delete / edit / clone-from-here on the selected snapshot, repair when the images
// disagree with the list — one at a time, with progress and errors here.
import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';
import type { SnapshotInfo } from '../../src-shared/contracts/snapshots';
import { formatBytes } from '../../src-shared/format-bytes';
import { ErrorText } from '../components/ErrorText';
import { StateBadge } from '../components/StateBadge';
import { useAppActions, useAppStore } from '../store/app-store';
import { CURRENT_ROW, parentRowIndex, snapshotRows, type SnapshotRow } from './snapshot-rows';
import {
  CloneSnapshotDialog,
  DeleteSnapshotDialog,
  EditSnapshotDialog,
  RestoreSnapshotDialog,
  TakeSnapshotDialog,
} from './SnapshotDialogs';

type OpenDialog =
  | { readonly kind: 'take' }
  | { readonly kind: 'restore' | 'delete' | 'edit' | 'clone'; readonly snapshot: SnapshotInfo }
  | null;

/** The screen a snapshot was taken on, asked for once the row scrolls into view. */
function SnapshotThumbnail({ vmId, snapshot }: { readonly vmId: string; readonly snapshot: SnapshotInfo }) {
  const { t } = useTranslation();
  const { snapshotThumbnail } = useAppActions();
  const ref = useRef<HTMLSpanElement>(null);
  const [visible, setVisible] = useState(false);
  const [src, setSrc] = useState<string | null>(null);

  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return;
    }
    // A little ahead of the viewport, so a scrolled-to row has its screen already.
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setVisible(true);
          observer.disconnect();
        }
      },
      { rootMargin: '200px' },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (!visible || !snapshot.hasThumbnail) return;
    let live = true;
    void snapshotThumbnail(vmId, snapshot.id).then((url) => live && setSrc(url));
    return () => {
      live = false;
    };
  }, [visible, vmId, snapshot.id, snapshot.hasThumbnail, snapshotThumbnail]);

  return (
    <span ref={ref} className="snapshot-thumb">
      {src && <img src={src} alt={t('snapshots.thumbnailAlt', { name: snapshot.name })} />}
    </span>
  );
}

export interface SnapshotManagerProps {
  readonly vmId: string;
  readonly vmName: string;
  readonly vmState: VmPowerState;
}

export function SnapshotManager({ vmId, vmName, vmState }: SnapshotManagerProps) {
  const { t, i18n } = useTranslation();
  const baseId = useId();
  const pane = useAppStore((s) => s.snapshotPanes[vmId]);
  const activity = useAppStore((s) => s.snapshotBusy[vmId]);
  const actions = useAppActions();
  const {
    openSnapshots,
    takeSnapshot,
    restoreSnapshot,
    deleteSnapshot,
    editSnapshot,
    repairSnapshots,
    cloneFromSnapshot,
    dismissSnapshotNotes,
  } = actions;
  const [selectedKey, setSelectedKey] = useState<string>(CURRENT_ROW);
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const focusTreeNext = useRef(false);

  useEffect(() => openSnapshots(vmId), [openSnapshots, vmId]);
  useEffect(() => {
    setSelectedKey(CURRENT_ROW);
    setDialog(null);
  }, [vmId]);

  const tree = pane?.tree ?? null;
  const rows = useMemo(() => (tree ? snapshotRows(tree) : []), [tree]);
  const selectedIndex = Math.max(
    0,
    rows.findIndex((r) => r.key === selectedKey),
  );
  const selectedRow: SnapshotRow | undefined = rows[selectedIndex];
  const selected = selectedRow?.kind === 'snapshot' ? selectedRow.snapshot : null;
  const dateFormat = useMemo(
    () => new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' }),
    [i18n.language],
  );

  const locked = activity !== undefined || !tree || tree.damaged !== null;
  /** Clone and repair work on the images of a VM that is not running. */
  const running = vmState === 'running' || vmState === 'paused';
  const rowId = (key: string) => `${baseId}-row-${key}`;

  function focusRow(index: number) {
    const row = rows[index];
    if (!row) return;
    setSelectedKey(row.key);
    document.getElementById(rowId(row.key))?.focus();
  }

  function open(kind: 'restore' | 'delete' | 'edit' | 'clone') {
    if (selected && !locked) setDialog({ kind, snapshot: selected });
  }

  function onTreeKey(e: KeyboardEvent<HTMLElement>) {
    const i = selectedIndex;
    const row = rows[i];
    let handled = true;
    switch (e.key) {
      case 'ArrowDown':
        focusRow(Math.min(i + 1, rows.length - 1));
        break;
      case 'ArrowUp':
        focusRow(Math.max(i - 1, 0));
        break;
      case 'Home':
        focusRow(0);
        break;
      case 'End':
        focusRow(rows.length - 1);
        break;
      case 'ArrowLeft': {
        const parent = parentRowIndex(rows, i);
        if (parent >= 0) focusRow(parent);
        break;
      }
      case 'ArrowRight':
        if (row && (rows[i + 1]?.level ?? 0) > row.level) focusRow(i + 1);
        break;
      case 'Enter':
      case 'F2':
        open('edit');
        break;
      case 'Delete':
        open('delete');
        break;
      default:
        handled = false;
    }
    if (handled) e.preventDefault();
  }

  function close() {
    setDialog(null);
  }

  /** A dialog's OK: the operation runs here, its buttons disable, so focus goes to the tree. */
  function closeToTree() {
    focusTreeNext.current = true;
    setDialog(null);
  }

  // After the dialog has given focus back to its (now disabled) opener.
  useEffect(() => {
    if (dialog || !focusTreeNext.current) return;
    focusTreeNext.current = false;
    document.getElementById(rowId(selectedRow?.key ?? CURRENT_ROW))?.focus();
  });

  const count = tree?.snapshots.length ?? 0;
  const busyLabel = activity ? t(`snapshots.busy.${activity.op}`) : '';

  return (
    <section className="snapshots" aria-label={t('snapshots.title')}>
      <div className="button-group" role="group" aria-label={t('snapshots.actions')}>
        <button type="button" className="primary" disabled={locked} onClick={() => setDialog({ kind: 'take' })}>
          {t('snapshots.take')}
        </button>
        <button type="button" disabled={locked || !selected} onClick={() => open('restore')}>
          {t('snapshots.restore')}
        </button>
        <button type="button" disabled={locked || !selected} onClick={() => open('delete')}>
          {t('snapshots.delete')}
        </button>
        <button type="button" disabled={locked || !selected} onClick={() => open('edit')}>
          {t('snapshots.edit')}
        </button>
        <button type="button" disabled={locked || !selected || running} onClick={() => open('clone')}>
          {t('snapshots.clone')}
        </button>
      </div>

      {tree?.damaged && (
        <p className="error snapshot-note" role="alert">
          {t('snapshots.damaged', { reason: tree.damaged })}
        </p>
      )}
      {tree && tree.problems.length > 0 && (
        <div className="error snapshot-note" role="alert">
          <p>{t('snapshots.problems')}</p>
          <ul>
            {tree.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
          <button type="button" disabled={locked || running} onClick={() => void repairSnapshots(vmId)}>
            {t('snapshots.repair')}
          </button>
        </div>
      )}
      {(pane?.recovered || pane?.message) && (
        <div className="snapshot-note info" role="status">
          <span>
            {pane.recovered && t('snapshots.recovered', { message: pane.recovered })}
            {pane.recovered && pane.message && ' '}
            {pane.message && t(pane.message.key, pane.message.values)}
          </span>
          <button
            type="button"
            className="icon-button"
            aria-label={t('common.dismiss')}
            onClick={() => dismissSnapshotNotes(vmId)}
          >
            ×
          </button>
        </div>
      )}
      {activity && (
        <div className="job" role="status">
          <span>{busyLabel}</span>
          <progress max={1} value={activity.fraction} aria-label={busyLabel} />
        </div>
      )}
      <ErrorText message={pane?.error} className="error snapshot-note" fromServer />

      {!tree && !pane?.error && <p className="muted">{t('snapshots.loading')}</p>}
      {tree && count === 0 && !tree.damaged && <p className="muted">{t('snapshots.empty')}</p>}
      {tree && (
        <ul
          role="tree"
          aria-label={t('snapshots.tree', { name: vmName })}
          className="snapshot-tree"
          onKeyDown={onTreeKey}
        >
          {rows.map((row, index) => {
            const isSelected = index === selectedIndex;
            const nameId = `${rowId(row.key)}-name`;
            const infoId = `${rowId(row.key)}-info`;
            const common = {
              id: rowId(row.key),
              role: 'treeitem',
              'aria-level': row.level,
              'aria-selected': isSelected,
              'aria-labelledby': nameId,
              'aria-describedby': infoId,
              tabIndex: isSelected ? 0 : -1,
              style: { paddingInlineStart: `${0.4 + (row.level - 1) * 1.6}rem` },
              onClick: () => setSelectedKey(row.key),
            } as const;
            if (row.kind === 'current') {
              return (
                <li key={row.key} {...common} className={`snapshot-row current${isSelected ? ' selected' : ''}`}>
                  <span className="snapshot-thumb current-mark" aria-hidden="true">
                    ▶
                  </span>
                  <span className="snapshot-text">
                    <span id={nameId} className="snapshot-name">
                      {t('snapshots.current')}
                    </span>
                    <span id={infoId} className="snapshot-meta">
                      {t('snapshots.currentHint')} <StateBadge state={vmState} />
                    </span>
                  </span>
                </li>
              );
            }
            const s = row.snapshot;
            return (
              <li
                key={row.key}
                {...common}
                className={`snapshot-row${isSelected ? ' selected' : ''}`}
                data-snapshot-id={s.id}
                onDoubleClick={() => !locked && setDialog({ kind: 'edit', snapshot: s })}
              >
                <SnapshotThumbnail vmId={vmId} snapshot={s} />
                <span className="snapshot-text">
                  <span id={nameId} className="snapshot-name">
                    {s.name}
                  </span>
                  <span id={infoId} className="snapshot-meta">
                    <time dateTime={s.createdAt}>{dateFormat.format(new Date(s.createdAt))}</time>
                    {' · '}
                    <span className={`snapshot-kind kind-${s.kind}`}>{t(`snapshots.kind.${s.kind}`)}</span>
                    {s.stateBytes ? ` · ${t('snapshots.stateSize', { size: formatBytes(s.stateBytes) })}` : ''}
                    {s.description && <span className="snapshot-description">{s.description}</span>}
                  </span>
                </span>
              </li>
            );
          })}
        </ul>
      )}

      {dialog?.kind === 'take' && (
        <TakeSnapshotDialog
          vmName={vmName}
          vmState={vmState}
          count={count}
          onClose={close}
          onTake={(options) => {
            closeToTree();
            void takeSnapshot(vmId, options);
          }}
        />
      )}
      {dialog?.kind === 'restore' && (
        <RestoreSnapshotDialog
          snapshot={dialog.snapshot}
          vmState={vmState}
          count={count}
          onClose={close}
          onRestore={(takeFirst) => {
            closeToTree();
            void restoreSnapshot(vmId, dialog.snapshot.id, takeFirst);
          }}
        />
      )}
      {dialog?.kind === 'delete' && (
        <DeleteSnapshotDialog
          snapshot={dialog.snapshot}
          onClose={close}
          onDelete={() => {
            closeToTree();
            void deleteSnapshot(vmId, dialog.snapshot.id);
          }}
        />
      )}
      {dialog?.kind === 'clone' && (
        <CloneSnapshotDialog
          vmName={vmName}
          snapshot={dialog.snapshot}
          onClose={close}
          onClone={(name) => {
            closeToTree();
            void cloneFromSnapshot(vmId, dialog.snapshot.id, name);
          }}
        />
      )}
      {dialog?.kind === 'edit' && (
        <EditSnapshotDialog
          snapshot={dialog.snapshot}
          onClose={close}
          onSave={(changes) => {
            closeToTree();
            void editSnapshot(vmId, dialog.snapshot.id, changes);
          }}
        />
      )}
    </section>
  );
}
