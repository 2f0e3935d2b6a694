// The Snapshots tab's dialogs: take (name prefilled "Snapshot N", description), restore (asks;
// offers to keep the current state in a snapshot first, checked by default), delete (asks) and
// edit (name, description), clone from here (the new VM's name). Each hands its answer to the
// tab, which runs the operation in place.
import { useId, useState, type FormEvent } from 'react';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';
import {
  SNAPSHOT_DESCRIPTION_MAX,
  SNAPSHOT_NAME_MAX,
  type SnapshotInfo,
  type SnapshotTakeOptions,
} from '../../src-shared/contracts/snapshots';
import { DialogButtons } from '../components/DialogButtons';
import { PortalDialog } from '../components/PortalDialog';

interface NameFieldsProps {
  readonly name: string;
  readonly description: string;
  readonly onName: (name: string) => void;
  readonly onDescription: (description: string) => void;
  readonly problem: string | null;
}

interface NameInputProps {
  readonly label: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly problem: string | null;
  readonly maxLength: number;
}

/** A required name field (focused first), its problem said under it. */
function NameInput({ label, value, onChange, problem, maxLength }: NameInputProps) {
  const id = useId();
  return (
    <div className={`field${problem ? ' invalid' : ''}`}>
      <label htmlFor={`${id}-name`}>{label}</label>
      <input
        id={`${id}-name`}
        type="text"
        value={value}
        data-autofocus
        maxLength={maxLength}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? `${id}-problem` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {problem && (
        <p id={`${id}-problem`} className="field-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

/** Name (required, at most SNAPSHOT_NAME_MAX) and description, as take and edit ask them. */
function NameFields({ name, description, onName, onDescription, problem }: NameFieldsProps) {
  const { t } = useTranslation();
  const id = useId();
  return (
    <>
      <NameInput
        label={t('snapshots.takeDialog.name')}
        value={name}
        onChange={onName}
        problem={problem}
        maxLength={SNAPSHOT_NAME_MAX + 1}
      />
      <div className="field">
        <label htmlFor={`${id}-description`}>{t('snapshots.takeDialog.description')}</label>
        <textarea
          id={`${id}-description`}
          rows={3}
          value={description}
          maxLength={SNAPSHOT_DESCRIPTION_MAX}
          onChange={(e) => onDescription(e.target.value)}
        />
      </div>
    </>
  );
}

/** What is wrong with a snapshot name (the service's own rules: trimmed, 1..SNAPSHOT_NAME_MAX), or null. */
function nameProblem(t: TFunction, name: string): string | null {
  if (!name.trim()) return t('snapshots.errors.name');
  if (name.trim().length > SNAPSHOT_NAME_MAX) return t('snapshots.errors.nameLong', { max: SNAPSHOT_NAME_MAX });
  return null;
}

export interface TakeSnapshotDialogProps {
  readonly vmName: string;
  readonly vmState: VmPowerState;
  /** How many snapshots the VM has (the name is prefilled "Snapshot <count + 1>"). */
  readonly count: number;
  readonly onTake: (options: SnapshotTakeOptions) => void;
  readonly onClose: () => void;
}

export function TakeSnapshotDialog({ vmName, vmState, count, onTake, onClose }: TakeSnapshotDialogProps) {
  const { t } = useTranslation();
  const [name, setName] = useState(() => t('snapshots.defaultName', { n: count + 1 }));
  const [description, setDescription] = useState('');
  const [touched, setTouched] = useState(false);
  const problem = touched ? nameProblem(t, name) : null;
  const saved = vmState === 'saved';
  const live = vmState === 'running' || vmState === 'paused';

  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (saved || nameProblem(t, name)) return;
    onTake({ name: name.trim(), description });
  }

  return (
    <PortalDialog title={t('snapshots.takeDialog.title', { name: vmName })} onClose={onClose}>
      <form onSubmit={submit} noValidate className="settings-body">
        <NameFields
          name={name}
          description={description}
          onName={(n) => {
            setName(n);
            setTouched(true);
          }}
          onDescription={setDescription}
          problem={problem}
        />
        {saved ? (
          <p className="field-warning">{t('snapshots.savedNoTake')}</p>
        ) : (
          <p className="hint">{t(live ? 'snapshots.takeDialog.live' : 'snapshots.takeDialog.disk')}</p>
        )}
        <DialogButtons
          onCancel={onClose}
          submitLabel={t('snapshots.takeDialog.confirm')}
          busy={saved}
          cancelWhileBusy
        />
      </form>
    </PortalDialog>
  );
}

export interface RestoreSnapshotDialogProps {
  readonly snapshot: SnapshotInfo;
  readonly vmState: VmPowerState;
  /** How many snapshots the VM has (names the one taken first: "Snapshot <count + 1>"). */
  readonly count: number;
  /** `takeFirst`: what to take of the current state before restoring (null: nothing). */
  readonly onRestore: (takeFirst: SnapshotTakeOptions | null) => void;
  readonly onClose: () => void;
}

export function RestoreSnapshotDialog({ snapshot, vmState, count, onRestore, onClose }: RestoreSnapshotDialogProps) {
  const { t } = useTranslation();
  // A saved state cannot go into a snapshot (the service refuses): nothing to offer then.
  const canTake = vmState !== 'saved';
  const [takeFirst, setTakeFirst] = useState(canTake);

  function submit(e: FormEvent) {
    e.preventDefault();
    onRestore(
      takeFirst && canTake
        ? {
            name: t('snapshots.defaultName', { n: count + 1 }),
            description: t('snapshots.restoreDialog.firstDescription', { name: snapshot.name }),
          }
        : null,
    );
  }

  return (
    <PortalDialog
      title={t('snapshots.restoreDialog.title', { name: snapshot.name })}
      onClose={onClose}
      className="confirm"
    >
      <form onSubmit={submit}>
        <p>{t(snapshot.kind === 'live' ? 'snapshots.restoreDialog.live' : 'snapshots.restoreDialog.disk')}</p>
        <p className="hint">{t('snapshots.restoreDialog.lost')}</p>
        <label className="check">
          <input
            type="checkbox"
            checked={takeFirst && canTake}
            disabled={!canTake}
            onChange={(e) => setTakeFirst(e.target.checked)}
          />
          {t('snapshots.restoreDialog.takeFirst')}
        </label>
        {!canTake && <p className="hint">{t('snapshots.savedNoTake')}</p>}
        <DialogButtons onCancel={onClose} submitLabel={t('snapshots.restoreDialog.confirm')} />
      </form>
    </PortalDialog>
  );
}

export interface DeleteSnapshotDialogProps {
  readonly snapshot: SnapshotInfo;
  readonly onDelete: () => void;
  readonly onClose: () => void;
}

export function DeleteSnapshotDialog({ snapshot, onDelete, onClose }: DeleteSnapshotDialogProps) {
  const { t } = useTranslation();
  return (
    <PortalDialog
      title={t('snapshots.deleteDialog.title', { name: snapshot.name })}
      onClose={onClose}
      className="confirm"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onDelete();
        }}
      >
        <p>{t('snapshots.deleteDialog.text')}</p>
        <DialogButtons
          onCancel={onClose}
          submitLabel={t('snapshots.deleteDialog.confirm')}
          submitTone="danger"
          focusCancel
        />
      </form>
    </PortalDialog>
  );
}

export interface EditSnapshotDialogProps {
  readonly snapshot: SnapshotInfo;
  /** Only what changed. */
  readonly onSave: (changes: { name?: string; description?: string }) => void;
  readonly onClose: () => void;
}

export function EditSnapshotDialog({ snapshot, onSave, onClose }: EditSnapshotDialogProps) {
  const { t } = useTranslation();
  const [name, setName] = useState(snapshot.name);
  const [description, setDescription] = useState(snapshot.description);
  const [touched, setTouched] = useState(false);
  const problem = touched ? nameProblem(t, name) : null;

  function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (nameProblem(t, name)) return;
    const trimmed = name.trim();
    const changes = {
      ...(trimmed !== snapshot.name ? { name: trimmed } : {}),
      ...(description !== snapshot.description ? { description } : {}),
    };
    if (Object.keys(changes).length === 0) onClose();
    else onSave(changes);
  }

  return (
    <PortalDialog title={t('snapshots.editDialog.title', { name: snapshot.name })} onClose={onClose}>
      <form onSubmit={submit} noValidate className="settings-body">
        <NameFields
          name={name}
          description={description}
          onName={(n) => {
            setName(n);
            setTouched(true);
          }}
          onDescription={setDescription}
          problem={problem}
        />
        <DialogButtons onCancel={onClose} submitLabel={t('snapshots.editDialog.confirm')} />
      </form>
    </PortalDialog>
  );
}

export interface CloneSnapshotDialogProps {
  readonly vmName: string;
  readonly snapshot: SnapshotInfo;
  readonly onClone: (name: string) => void;
  readonly onClose: () => void;
}

/** Clone from here: the new VM's name, prefilled "VM at SNAPSHOT". */
export function CloneSnapshotDialog({ vmName, snapshot, onClone, onClose }: CloneSnapshotDialogProps) {
  const { t } = useTranslation();
  const [name, setName] = useState(() =>
    t('snapshots.cloneDialog.defaultName', { vm: vmName, snapshot: snapshot.name }),
  );
  const [touched, setTouched] = useState(false);
  const problem = touched && name.trim() === '' ? t('snapshots.errors.name') : null;
  return (
    <PortalDialog title={t('snapshots.cloneDialog.title', { name: snapshot.name })} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (name.trim() !== '') onClone(name.trim());
        }}
      >
        <p>{t('snapshots.cloneDialog.text')}</p>
        <NameInput
          label={t('snapshots.cloneDialog.name')}
          value={name}
          onChange={setName}
          problem={problem}
          maxLength={256}
        />
        <DialogButtons onCancel={onClose} submitLabel={t('snapshots.cloneDialog.confirm')} />
      </form>
    </PortalDialog>
  );
}
