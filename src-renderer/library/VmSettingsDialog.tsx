// Settings of a VM: everything the wizard sets (but the disk size), plus boot order, NIC port
// forwards and the description, saved with library.modify; and its drives (VmStorageFields),
// which change at once. While the VM runs only the CD/DVD and floppy media can change (live,
// through the engine).
import { useMemo, useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { ModifyVmArgs, VmDetails } from '../../src-shared/contracts/library';
import type { PortForward, VmConfig } from '../../src-shared/vm-config';
import { OS_PRESETS, PRESET_IDS, type PresetId } from '../../src-shared/os-presets';
import { Dialog } from '../components/Dialog';
import { DialogButtons } from '../components/DialogButtons';
import { ErrorText } from '../components/ErrorText';
import { TableHead } from '../components/TableHead';
import { otherVmNames, useAppActions, useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';
import { problemText } from '../wizard/field-text';
import { FirmwareFields, HardwareFields } from '../wizard/HardwareFields';
import { IsoField } from '../wizard/IsoField';
import { draftFromConfig, validateDraft, type DraftField, type VmDraft } from '../wizard/vm-rules';
import { Windows11Readiness } from '../wizard/Windows11Readiness';
import { VmStorageFields } from './VmStorageFields';

type BootDevice = VmConfig['bootOrder'][number];
const BOOT_DEVICES: readonly BootDevice[] = ['cdrom', 'disk', 'floppy', 'network'];

interface SettingsDraft extends VmDraft {
  readonly description: string;
  readonly bootOrder: readonly BootDevice[];
  readonly portForwards: readonly PortForward[];
}

function draftOf(c: VmConfig): SettingsDraft {
  return {
    ...draftFromConfig(c),
    description: c.description,
    bootOrder: c.bootOrder,
    portForwards: c.nics[0]?.portForwards ?? [],
  };
}

/** Only what changed, as library.modify takes it. */
export function settingsPatch(c: VmConfig, d: SettingsDraft): ModifyVmArgs {
  const patch: Record<string, unknown> = {};
  if (d.name !== c.name) patch.name = d.name;
  if (d.engine !== c.engine) patch.engine = d.engine;
  if (d.cpus !== c.cpus) patch.cpus = d.cpus;
  if (d.memoryMiB !== c.memoryMiB) patch.memoryMiB = d.memoryMiB;
  if (d.firmware !== c.firmware) patch.firmware = d.firmware;
  if (d.secureBoot !== c.secureBoot) patch.secureBoot = d.secureBoot;
  if (d.tpm !== c.tpm) patch.tpm = d.tpm;
  if (d.iso !== (c.cdroms[0]?.iso ?? null)) patch.iso = d.iso;
  if (d.description !== c.description) patch.description = d.description;
  if (JSON.stringify(d.bootOrder) !== JSON.stringify(c.bootOrder)) patch.bootOrder = [...d.bootOrder];
  // The forwards are adapter 1's (a VM without adapters gets a NAT one for them).
  if (JSON.stringify(d.portForwards) !== JSON.stringify(c.nics[0]?.portForwards ?? [])) {
    const first = c.nics[0] ?? {
      attachment: 'nat' as const,
      model: OS_PRESETS[c.os].nic,
      cableConnected: true,
      portForwards: [],
    };
    patch.nics = [{ ...first, portForwards: d.portForwards.map((f) => ({ ...f })) }, ...c.nics.slice(1)];
  }
  return patch as ModifyVmArgs;
}

function BootOrderField(p: {
  readonly value: readonly BootDevice[];
  readonly onChange: (v: BootDevice[]) => void;
  readonly disabled: boolean;
}) {
  const { t } = useTranslation();
  const order = [...p.value, ...BOOT_DEVICES.filter((d) => !p.value.includes(d))];
  const move = (i: number, by: number) => {
    const next = [...order];
    const [item] = next.splice(i, 1);
    next.splice(i + by, 0, item!);
    p.onChange(next.filter((d) => p.value.includes(d)));
  };
  return (
    <fieldset className="fields boot-order" disabled={p.disabled}>
      <legend>{t('settings.bootOrder')}</legend>
      <ol>
        {order.map((d, i) => (
          <li key={d}>
            <label className="check">
              <input
                type="checkbox"
                checked={p.value.includes(d)}
                disabled={p.value.length === 1 && p.value.includes(d)}
                onChange={(e) =>
                  p.onChange(
                    e.target.checked
                      ? order.filter((x) => x === d || p.value.includes(x))
                      : p.value.filter((x) => x !== d),
                  )
                }
              />
              {t(`settings.boot.${d}`)}
            </label>
            <button
              type="button"
              className="icon-button"
              aria-label={t('settings.moveUp', { device: t(`settings.boot.${d}`) })}
              disabled={i === 0}
              onClick={() => move(i, -1)}
            >
              ↑
            </button>
            <button
              type="button"
              className="icon-button"
              aria-label={t('settings.moveDown', { device: t(`settings.boot.${d}`) })}
              disabled={i === order.length - 1}
              onClick={() => move(i, 1)}
            >
              ↓
            </button>
          </li>
        ))}
      </ol>
    </fieldset>
  );
}

const FORWARD_COLUMNS = [...['protocol', 'hostAddress', 'hostPort', 'guestPort'].map((c) => `settings.${c}`), ''];

const badPort = (n: number) => !Number.isInteger(n) || n < 1 || n > 65535;

/** One port number of a forward (host or guest side). */
function PortCell(p: { readonly label: string; readonly value: number; readonly onChange: (port: number) => void }) {
  return (
    <td>
      <input
        aria-label={p.label}
        type="number"
        value={Number.isNaN(p.value) ? '' : p.value}
        aria-invalid={badPort(p.value) || undefined}
        onChange={(e) => p.onChange(Number(e.target.value))}
      />
    </td>
  );
}

function PortForwardsField(p: {
  readonly value: readonly PortForward[];
  readonly onChange: (v: PortForward[]) => void;
  readonly disabled: boolean;
}) {
  const { t } = useTranslation();
  const set = (i: number, patch: Partial<PortForward>) =>
    p.onChange(p.value.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  return (
    <fieldset className="fields" disabled={p.disabled}>
      <legend>{t('settings.portForwards')}</legend>
      {p.value.length === 0 && <p className="muted">{t('settings.noForwards')}</p>}
      {p.value.length > 0 && (
        <table className="forwards">
          <TableHead columns={FORWARD_COLUMNS} />
          <tbody>
            {p.value.map((f, i) => (
              <tr key={i}>
                <td>
                  <select
                    aria-label={t('settings.protocol')}
                    value={f.protocol}
                    onChange={(e) => set(i, { protocol: e.target.value as 'tcp' | 'udp' })}
                  >
                    <option value="tcp">TCP</option>
                    <option value="udp">UDP</option>
                  </select>
                </td>
                <td>
                  <input
                    aria-label={t('settings.hostAddress')}
                    value={f.hostAddress}
                    onChange={(e) => set(i, { hostAddress: e.target.value })}
                  />
                </td>
                <PortCell
                  label={t('settings.hostPort')}
                  value={f.hostPort}
                  onChange={(hostPort) => set(i, { hostPort })}
                />
                <PortCell
                  label={t('settings.guestPort')}
                  value={f.guestPort}
                  onChange={(guestPort) => set(i, { guestPort })}
                />
                <td>
                  <button type="button" onClick={() => p.onChange(p.value.filter((_, j) => j !== i))}>
                    {t('settings.removeForward')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorText message={p.value.some((f) => badPort(f.hostPort) || badPort(f.guestPort)) && t('settings.badPort')} />
      <button
        type="button"
        onClick={() =>
          p.onChange([...p.value, { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 }])
        }
      >
        {t('settings.addForward')}
      </button>
    </fieldset>
  );
}

function SettingsForm({ details }: { readonly details: VmDetails }) {
  const { t } = useTranslation();
  const limits = useAppStore((s) => s.limits);
  const host = useAppStore((s) => s.hostInfo);
  const vms = useAppStore((s) => s.vms);
  const { modifyVm, insertCd, closeDialog: close, notify } = useAppActions();
  const c = details.config;
  const running = details.state === 'running' || details.state === 'paused';
  const taken = useMemo(() => otherVmNames(vms, c.id), [vms, c.id]);
  const [draft, setDraft] = useState<SettingsDraft>(() => draftOf(c));
  const [shown, setShown] = useState<ReadonlySet<DraftField>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const problems = validateDraft(draft, { limits, existingNames: taken, checkDisk: false });
  const visible = Object.fromEntries(
    Object.entries(problems).filter(([k]) => shown.has(k as DraftField)),
  ) as typeof problems;
  const badPorts = draft.portForwards.some((f) => badPort(f.hostPort) || badPort(f.guestPort));

  function change(patch: Partial<SettingsDraft>) {
    setDraft((d) => ({ ...d, ...patch }));
    setShown((s) => new Set([...s, ...(Object.keys(patch) as DraftField[])]));
    setError(null);
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    if (running) {
      if (draft.iso !== (c.cdroms[0]?.iso ?? null) && draft.iso) await insertCd(c.id, draft.iso);
      close();
      return;
    }
    setShown(new Set(Object.keys(problems) as DraftField[]));
    if (Object.keys(problems).length > 0 || badPorts) return;
    const patch = settingsPatch(c, draft);
    if (Object.keys(patch).length === 0) {
      close();
      return;
    }
    setSaving(true);
    try {
      const r = await modifyVm(c.id, patch);
      close();
      notify({ tone: 'info', key: 'settings.saved', values: { name: r.vm.config.name } });
      for (const w of r.warnings) notify({ tone: 'warning', key: 'errors.serverWarning', values: { message: w } });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setSaving(false);
    }
  }

  return (
    <form onSubmit={(e) => void save(e)} noValidate>
      <div className="step-body settings-body">
        {running && (
          <p className="notice notice-warning" role="status">
            {t('settings.runningNote')}
          </p>
        )}
        <fieldset className="fields" disabled={running}>
          <legend>{t('settings.general')}</legend>
          <div className={`field${visible.name ? ' invalid' : ''}`}>
            <label htmlFor="settings-name">{t('wizard.name')}</label>
            <input
              id="settings-name"
              value={draft.name}
              data-autofocus
              aria-invalid={visible.name ? true : undefined}
              onChange={(e) => change({ name: e.target.value })}
            />
            {visible.name && (
              <p className="field-error" role="alert">
                {problemText(t, 'name', visible.name)}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor="settings-os">{t('wizard.os')}</label>
            <select id="settings-os" value={draft.os} disabled>
              {PRESET_IDS.map((id: PresetId) => (
                <option key={id} value={id}>
                  {t(`os.${id}`)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="settings-description">{t('settings.description')}</label>
            <textarea
              id="settings-description"
              rows={3}
              maxLength={10000}
              value={draft.description}
              onChange={(e) => change({ description: e.target.value })}
            />
          </div>
        </fieldset>
        <HardwareFields
          draft={draft}
          limits={limits}
          host={host}
          problems={visible}
          onChange={change}
          showDisk={false}
          disabled={running}
        />
        <FirmwareFields draft={draft} problems={visible} onChange={change} disabled={running} />
        {draft.os === 'windows11' && (
          <Windows11Readiness
            draft={draft}
            host={host}
            limits={limits}
            checkDisk={false}
            onFix={running ? undefined : (d) => change(d)}
          />
        )}
        <BootOrderField value={draft.bootOrder} onChange={(bootOrder) => change({ bootOrder })} disabled={running} />
        <fieldset className="fields">
          <legend>{t('settings.cd')}</legend>
          <IsoField value={draft.iso} onChange={(iso) => change({ iso })} />
        </fieldset>
        <VmStorageFields
          vmId={c.id}
          running={running}
          defaultBus={c.disks[0]?.bus ?? (c.engine === 'v86' ? 'ide' : OS_PRESETS[c.os].diskBus)}
        />
        <PortForwardsField
          value={draft.portForwards}
          onChange={(portForwards) => change({ portForwards })}
          disabled={running}
        />
        <ErrorText message={error} className="field-error server-error" fromServer />
      </div>
      <DialogButtons onCancel={close} submitLabel={t('common.save')} busy={saving} cancelWhileBusy />
    </form>
  );
}

export function VmSettingsDialog({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const details = useAppStore((s) => (s.details?.config.id === vmId ? s.details : null));
  const { closeDialog: close } = useAppActions();
  return (
    <Dialog title={t('settings.title', { name: details?.config.name ?? '' })} onClose={close} className="settings">
      {details ? <SettingsForm details={details} /> : <p className="muted">{t('app.loading')}</p>}
    </Dialog>
  );
}
