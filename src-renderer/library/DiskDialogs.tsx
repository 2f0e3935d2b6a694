// The Disks list's dialogs: Grow (the new size in GiB, prefilled with the disk's size; a smaller
// or equal size is refused here with the reason) and Compact (asks, with the space it needs).
// Each hands its answer to the list, which runs the operation in place.
import { useId, useState, type FormEvent } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { DISK_MAX_BYTES } from '../../src-shared/contracts/disks';
import { formatBytes } from '../../src-shared/format-bytes';
import { DialogButtons } from '../components/DialogButtons';
import { PortalDialog } from '../components/PortalDialog';
import { gibText, parseGrowSize, type GrowProblem } from './disk-rules';

function growProblemText(t: TFunction, problem: GrowProblem, currentBytes: number): string {
  return t(`disks.growDialog.errors.${problem}`, {
    size: formatBytes(currentBytes),
    max: formatBytes(DISK_MAX_BYTES),
  });
}

export interface GrowDiskDialogProps {
  readonly vmName: string;
  readonly diskId: string;
  /** The disk's size as the guest sees it. */
  readonly currentBytes: number;
  readonly onGrow: (newSizeBytes: number) => void;
  readonly onClose: () => void;
}

export function GrowDiskDialog({ vmName, diskId, currentBytes, onGrow, onClose }: GrowDiskDialogProps) {
  const { t } = useTranslation();
  const id = useId();
  const [text, setText] = useState(() => gibText(currentBytes));
  const [touched, setTouched] = useState(false);
  const parsed = parseGrowSize(text, currentBytes);
  // The prefilled size is "unchanged", not a mistake: said only once the user typed or submitted.
  const problem = touched ? parsed.problem : null;

  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (parsed.bytes !== null) onGrow(parsed.bytes);
  }

  return (
    <PortalDialog title={t('disks.growDialog.title', { disk: diskId, name: vmName })} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div className={`field${problem ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-size`}>{t('disks.growDialog.size')}</label>
          <input
            id={`${id}-size`}
            type="text"
            inputMode="decimal"
            value={text}
            data-autofocus
            spellCheck={false}
            aria-invalid={problem ? true : undefined}
            aria-describedby={`${id}-current${problem ? ` ${id}-problem` : ''}`}
            onChange={(e) => {
              setText(e.target.value);
              setTouched(true);
            }}
          />
          <p id={`${id}-current`} className="hint">
            {t('disks.growDialog.current', { size: formatBytes(currentBytes) })}
          </p>
          {problem && (
            <p id={`${id}-problem`} className="field-error" role="alert">
              {growProblemText(t, problem, currentBytes)}
            </p>
          )}
        </div>
        <p className="hint">{t('disks.growDialog.hint')}</p>
        <DialogButtons onCancel={onClose} submitLabel={t('disks.growDialog.confirm')} />
      </form>
    </PortalDialog>
  );
}

export interface CompactDiskDialogProps {
  readonly vmName: string;
  readonly diskId: string;
  /** Bytes the disk takes on the host now (null: unknown). */
  readonly allocatedBytes: number | null;
  readonly onCompact: () => void;
  readonly onClose: () => void;
}

export function CompactDiskDialog({ vmName, diskId, allocatedBytes, onCompact, onClose }: CompactDiskDialogProps) {
  const { t } = useTranslation();
  return (
    <PortalDialog
      title={t('disks.compactDialog.title', { disk: diskId, name: vmName })}
      onClose={onClose}
      className="confirm"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onCompact();
        }}
      >
        <p>{t('disks.compactDialog.text')}</p>
        {allocatedBytes !== null && (
          <p className="hint">{t('disks.compactDialog.space', { size: formatBytes(allocatedBytes) })}</p>
        )}
        <p className="hint">{t('disks.compactDialog.snapshots')}</p>
        <p className="hint">{t('disks.compactDialog.tip')}</p>
        <DialogButtons onCancel={onClose} submitLabel={t('disks.compactDialog.confirm')} />
      </form>
    </PortalDialog>
  );
}
