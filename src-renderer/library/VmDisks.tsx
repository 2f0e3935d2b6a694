// The Disks list of a VM's summary: each disk's bus, size and host usage, with Grow… and Compact
// while the VM is off (a visible hint says why they are disabled otherwise); the operation under
// way with its progress and Cancel, and its outcome, warnings or error, here under the list.
import { useEffect, useId, useRef, useState } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { DiskDetails, VmDetails, VmPowerState } from '../../src-shared/contracts/library';
import { formatBytes } from '../../src-shared/format-bytes';
import { ErrorText } from '../components/ErrorText';
import { JobProgress } from '../components/JobProgress';
import { TableHead } from '../components/TableHead';
import { useAppActions, useAppStore } from '../store/app-store';
import type { DiskNote } from '../store/disk-slice';
import { CompactDiskDialog, GrowDiskDialog } from './DiskDialogs';
import { diskLock, freedBytes } from './disk-rules';

const DISK_COLUMNS = ['disk', 'bus', 'virtualSize', 'allocated', 'diskActions'].map((c) => `details.${c}`);

type OpenDialog = { readonly kind: 'grow' | 'compact'; readonly index: number; readonly disk: DiskDetails } | null;

/** The outcome of a VM's last disk operation, as a sentence. */
function noteText(t: TFunction, note: DiskNote, diskId: string): string {
  const o = note.outcome;
  if (!o) return t(`disks.cancelled.${note.op}`, { disk: diskId });
  if (o.op === 'grow') {
    return o.newSizeBytes === o.oldSizeBytes
      ? t('disks.done.growNone', { disk: o.diskId, size: formatBytes(o.newSizeBytes) })
      : t('disks.done.grow', { disk: o.diskId, old: formatBytes(o.oldSizeBytes), new: formatBytes(o.newSizeBytes) });
  }
  return o.replaced
    ? t('disks.done.compact', {
        disk: o.diskId,
        freed: formatBytes(freedBytes(o)),
        before: formatBytes(o.bytesBefore),
        after: formatBytes(o.bytesAfter),
      })
    : t('disks.done.compactNone', { disk: o.diskId, size: formatBytes(o.bytesBefore) });
}

export interface VmDisksProps {
  readonly vmId: string;
  readonly vmName: string;
  readonly vmState: VmPowerState;
  /** Null while the VM's details are being read. */
  readonly details: VmDetails | null;
}

export function VmDisks({ vmId, vmName, vmState, details }: VmDisksProps) {
  const { t } = useTranslation();
  const id = useId();
  const activity = useAppStore((s) => s.diskBusy[vmId]);
  const note = useAppStore((s) => s.diskNotes[vmId]);
  const otherBusy = useAppStore((s) => s.powerBusy[vmId] !== undefined || s.stateBusy[vmId] !== undefined);
  const { growDisk, compactDisk, cancelDiskOp, dismissDiskNote } = useAppActions();
  const [dialog, setDialog] = useState<OpenDialog>(null);
  const focusProgressNext = useRef(false);
  const sectionRef = useRef<HTMLElement>(null);

  useEffect(() => setDialog(null), [vmId]);

  // After a dialog's OK: its opener is disabled while the operation runs, so focus goes to Cancel.
  useEffect(() => {
    if (dialog || !focusProgressNext.current) return;
    focusProgressNext.current = false;
    sectionRef.current?.querySelector<HTMLElement>('.job button')?.focus();
  });

  const lock = diskLock(vmState);
  const disabled = lock !== null || activity !== undefined || otherBusy;
  const hintId = `${id}-hint`;
  const diskIdAt = (index: number) => details?.disks[index]?.id ?? String(index);

  function start(run: () => Promise<boolean>) {
    focusProgressNext.current = true;
    setDialog(null);
    void run();
  }

  return (
    <section ref={sectionRef} className="vm-disks" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>{t('details.disks')}</h3>
      {details && details.disks.length === 0 && <p className="muted">{t('details.noDisks')}</p>}
      {details && details.disks.length > 0 && (
        <>
          {lock && (
            <p id={hintId} className="hint">
              {t(lock === 'saved' ? 'disks.savedOnly' : 'disks.offOnly')}
            </p>
          )}
          {!lock && otherBusy && !activity && (
            <p id={hintId} className="hint">
              {t('disks.busyHint')}
            </p>
          )}
          <table className="disks">
            <TableHead columns={DISK_COLUMNS} />
            <tbody>
              {details.disks.map((d, index) => (
                <tr key={d.id} title={d.path}>
                  <td>{d.id}</td>
                  <td>{d.bus}</td>
                  <td>{formatBytes(d.virtualSizeBytes)}</td>
                  <td>
                    {d.exists
                      ? d.allocatedBytes === null
                        ? '—'
                        : formatBytes(d.allocatedBytes)
                      : t('details.missing')}
                  </td>
                  <td>
                    <div className="disk-actions" role="group" aria-label={t('disks.actionsFor', { disk: d.id })}>
                      <button
                        type="button"
                        disabled={disabled || !d.exists}
                        aria-describedby={lock || otherBusy ? hintId : undefined}
                        onClick={() => setDialog({ kind: 'grow', index, disk: d })}
                      >
                        {t('disks.grow')}
                      </button>
                      <button
                        type="button"
                        disabled={disabled || !d.exists}
                        aria-describedby={lock || otherBusy ? hintId : undefined}
                        onClick={() => setDialog({ kind: 'compact', index, disk: d })}
                      >
                        {t('disks.compact')}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {activity && (
        <JobProgress
          label={t(`disks.busy.${activity.op}`, { disk: diskIdAt(activity.diskIndex) })}
          fraction={activity.fraction}
          onCancel={() => cancelDiskOp(vmId)}
        />
      )}
      {note && note.error === null && (
        <div className="snapshot-note info" role="status">
          <div>
            <p>{noteText(t, note, diskIdAt(note.diskIndex))}</p>
            {note.outcome?.op === 'grow' &&
              note.outcome.warnings.map((w) => (
                <p key={w} className="field-warning">
                  {t('errors.serverWarning', { message: w })}
                </p>
              ))}
          </div>
          <button
            type="button"
            className="icon-button"
            aria-label={t('common.dismiss')}
            onClick={() => dismissDiskNote(vmId)}
          >
            ×
          </button>
        </div>
      )}
      <ErrorText message={note?.error} className="error snapshot-note" fromServer />

      {dialog?.kind === 'grow' && (
        <GrowDiskDialog
          vmName={vmName}
          diskId={dialog.disk.id}
          currentBytes={dialog.disk.virtualSizeBytes}
          onClose={() => setDialog(null)}
          onGrow={(bytes) => start(() => growDisk(vmId, dialog.index, bytes))}
        />
      )}
      {dialog?.kind === 'compact' && (
        <CompactDiskDialog
          vmName={vmName}
          diskId={dialog.disk.id}
          allocatedBytes={dialog.disk.allocatedBytes}
          onClose={() => setDialog(null)}
          onCompact={() => start(() => compactDisk(vmId, dialog.index))}
        />
      )}
    </section>
  );
}
