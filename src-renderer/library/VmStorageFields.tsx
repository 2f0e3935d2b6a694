// The Storage part of a VM's settings: every disk, CD/DVD and floppy drive with where it sits
// (controller, slot) and what is in it; Remove for a drive and Eject/Insert for a CD/DVD or
// floppy; Add a drive (a new or existing disk on IDE, SATA, virtio, virtio-scsi or NVMe, a CD/DVD
// drive, a floppy drive). Changes apply at once through the storage slice; what QEMU or v86
// cannot attach is said above the list.
import { useEffect, useId, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { StorageDrive } from '../../src-shared/contracts/library';
import { formatBytes } from '../../src-shared/format-bytes';
import { diskBusLabel } from '../../src-shared/storage-layout';
import { DISK_BUSES, type DiskBusName } from '../../src-shared/vm-config';
import { ErrorText } from '../components/ErrorText';
import { TableHead } from '../components/TableHead';
import { useAppActions, useAppStore } from '../store/app-store';

const COLUMNS = ['id', 'type', 'bus', 'slot', 'medium', 'size'].map((c) => `storage.columns.${c}`).concat('');

type Kind = StorageDrive['type'];

/** Enter in a field of this part must not submit the settings form around it. */
function noSubmit(e: KeyboardEvent<HTMLInputElement>): void {
  if (e.key === 'Enter') e.preventDefault();
}

function busText(d: StorageDrive): string {
  return d.bus === 'fdc' ? '—' : diskBusLabel(d.bus);
}

/** One drive's row: its place and medium, Remove (VM off), and for removable drives Eject / Insert. */
function DriveRow(p: {
  readonly vmId: string;
  readonly drive: StorageDrive;
  readonly running: boolean;
  readonly busy: boolean;
}) {
  const { t } = useTranslation();
  const { detachDrive, setDriveMedium } = useAppActions();
  const [path, setPath] = useState('');
  const d = p.drive;
  const removable = d.type !== 'hdd';
  return (
    <tr>
      <td>{d.id}</td>
      <td>{t(`storage.type.${d.type}`)}</td>
      <td>{busText(d)}</td>
      <td>{d.slot}</td>
      <td className="path">
        {d.medium ?? t('storage.empty')}
        {!d.exists && <strong className="field-error"> {t('storage.missing')}</strong>}
        {removable && (
          <span className="storage-medium">
            <input
              aria-label={t('storage.imagePathFor', { drive: d.id })}
              placeholder={t(d.type === 'fdd' ? 'storage.floppyPath' : 'storage.isoPath')}
              value={path}
              onKeyDown={noSubmit}
              onChange={(e) => setPath(e.target.value)}
            />
            <button
              type="button"
              disabled={p.busy || path.trim() === ''}
              onClick={() => void setDriveMedium(p.vmId, d.id, path.trim()).then((ok) => ok && setPath(''))}
            >
              {t('storage.insert')}
            </button>
            <button
              type="button"
              disabled={p.busy || d.medium === null}
              onClick={() => void setDriveMedium(p.vmId, d.id, null)}
            >
              {t('storage.eject')}
            </button>
          </span>
        )}
      </td>
      <td>{d.sizeBytes !== undefined ? formatBytes(d.sizeBytes) : ''}</td>
      <td>
        <button
          type="button"
          disabled={p.busy || p.running}
          aria-label={t('storage.removeDrive', { drive: d.id })}
          onClick={() => void detachDrive(p.vmId, d.id)}
        >
          {t('storage.remove')}
        </button>
      </td>
    </tr>
  );
}

/** Add a drive: its kind, bus, and a new disk's size or an image's path (empty: an empty drive). */
function AddDrive(p: { readonly vmId: string; readonly busy: boolean; readonly defaultBus: DiskBusName }) {
  const { t } = useTranslation();
  const id = useId();
  const { attachDrive } = useAppActions();
  const [kind, setKind] = useState<Kind>('hdd');
  const [bus, setBus] = useState<DiskBusName>(p.defaultBus);
  const [dvdBus, setDvdBus] = useState<'ide' | 'ahci'>('ide');
  const [source, setSource] = useState<'new' | 'existing'>('new');
  const [sizeGiB, setSizeGiB] = useState(8);
  const [path, setPath] = useState('');
  const badSize = kind === 'hdd' && source === 'new' && !(sizeGiB > 0);
  const needsPath = kind === 'hdd' && source === 'existing' && path.trim() === '';

  async function add() {
    const medium = path.trim() === '' ? null : path.trim();
    const ok = await attachDrive(
      p.vmId,
      kind === 'hdd'
        ? source === 'new'
          ? { type: 'hdd', bus, createBytes: Math.round(sizeGiB * 1024 ** 3) }
          : { type: 'hdd', bus, medium }
        : kind === 'dvd'
          ? { type: 'dvd', bus: dvdBus, medium }
          : { type: 'fdd', medium },
    );
    if (ok) setPath('');
  }

  return (
    <div className="storage-add">
      <div className="field">
        <label htmlFor={`${id}-kind`}>{t('storage.kind')}</label>
        <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          {(['hdd', 'dvd', 'fdd'] as const).map((k) => (
            <option key={k} value={k}>
              {t(`storage.type.${k}`)}
            </option>
          ))}
        </select>
      </div>
      {kind !== 'fdd' && (
        <div className="field">
          <label htmlFor={`${id}-bus`}>{t('storage.columns.bus')}</label>
          {kind === 'hdd' ? (
            <select id={`${id}-bus`} value={bus} onChange={(e) => setBus(e.target.value as DiskBusName)}>
              {DISK_BUSES.map((b) => (
                <option key={b} value={b}>
                  {diskBusLabel(b)}
                </option>
              ))}
            </select>
          ) : (
            <select id={`${id}-bus`} value={dvdBus} onChange={(e) => setDvdBus(e.target.value as 'ide' | 'ahci')}>
              <option value="ide">IDE</option>
              <option value="ahci">SATA</option>
            </select>
          )}
        </div>
      )}
      {kind === 'hdd' && (
        <fieldset className="choice">
          <legend>{t('storage.source')}</legend>
          <label className="check">
            <input type="radio" checked={source === 'new'} onChange={() => setSource('new')} />
            {t('storage.newDisk')}
          </label>
          <label className="check">
            <input type="radio" checked={source === 'existing'} onChange={() => setSource('existing')} />
            {t('storage.existingDisk')}
          </label>
        </fieldset>
      )}
      {kind === 'hdd' && source === 'new' ? (
        <div className={`field${badSize ? ' invalid' : ''}`}>
          <label htmlFor={`${id}-size`}>{t('storage.sizeGiB')}</label>
          <input
            id={`${id}-size`}
            type="number"
            min={0.01}
            step="any"
            value={Number.isNaN(sizeGiB) ? '' : sizeGiB}
            aria-invalid={badSize || undefined}
            onKeyDown={noSubmit}
            onChange={(e) => setSizeGiB(Number(e.target.value))}
          />
        </div>
      ) : (
        <div className="field">
          <label htmlFor={`${id}-path`}>
            {t(kind === 'hdd' ? 'storage.diskPath' : kind === 'dvd' ? 'storage.isoPath' : 'storage.floppyPath')}
          </label>
          <input id={`${id}-path`} value={path} onKeyDown={noSubmit} onChange={(e) => setPath(e.target.value)} />
          {kind !== 'hdd' && <p className="muted">{t('storage.emptyHint')}</p>}
        </div>
      )}
      <button type="button" disabled={p.busy || badSize || needsPath} onClick={() => void add()}>
        {t('storage.add')}
      </button>
    </div>
  );
}

export function VmStorageFields(p: {
  readonly vmId: string;
  readonly running: boolean;
  readonly defaultBus: DiskBusName;
}) {
  const { t } = useTranslation();
  const view = useAppStore((s) => (s.storageView?.vmId === p.vmId ? s.storageView : null));
  const { loadStorage, clearStorage } = useAppActions();
  useEffect(() => {
    void loadStorage(p.vmId);
    return () => clearStorage();
  }, [p.vmId, loadStorage, clearStorage]);
  const data = view?.data ?? null;
  const busy = view?.busy ?? true;
  return (
    <fieldset className="fields storage" aria-busy={busy || undefined}>
      <legend>{t('storage.title')}</legend>
      <p className="muted">{t(p.running ? 'storage.runningNote' : 'storage.applyNote')}</p>
      {data && data.qemuProblems.length > 0 && (
        <p className="notice notice-warning" role="status">
          {t('storage.qemuProblems', { problems: data.qemuProblems.join('; ') })}
        </p>
      )}
      {data && data.v86Problems.length > 0 && (
        <p className="notice notice-info" role="status">
          {t('storage.v86Problems', { problems: data.v86Problems.join('; ') })}
        </p>
      )}
      {data && data.drives.length === 0 && <p className="muted">{t('storage.none')}</p>}
      {data && data.drives.length > 0 && (
        <table className="storage-drives">
          <TableHead columns={COLUMNS} />
          <tbody>
            {data.drives.map((d) => (
              <DriveRow key={d.id} vmId={p.vmId} drive={d} running={p.running} busy={busy} />
            ))}
          </tbody>
        </table>
      )}
      <ErrorText message={view?.error ?? null} className="field-error server-error" fromServer />
      {!p.running && <AddDrive vmId={p.vmId} busy={busy} defaultBus={p.defaultBus} />}
    </fieldset>
  );
}
