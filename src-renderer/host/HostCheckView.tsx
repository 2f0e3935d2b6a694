// The host check page: every probe finding with its verdict and fix, the accelerator table
// (each test boot), the tools and firmware found, and a re-probe button.
import { useTranslation } from 'react-i18next';
import type { HostFinding, HostInfo } from '../../src-shared/host-info';
import { formatBytes } from '../../src-shared/format-bytes';
import { ErrorText } from '../components/ErrorText';
import { TableHead } from '../components/TableHead';
import { useAppActions, useAppStore } from '../store/app-store';

/** Finding ids with a translation: accelerator ids are generic (`kvm-ok` → `accel-ok`). */
function findingKey(id: string): string {
  const m = /^(kvm|hvf|whpx|tcg)-(ok|cpu-fallback|absent|unusable)$/.exec(id);
  return m ? `host.finding.accel-${m[2]}` : `host.finding.${id}`;
}

function Finding({ f }: { readonly f: HostFinding }) {
  const { t, i18n } = useTranslation();
  const key = findingKey(f.id);
  const accel = /^(kvm|hvf|whpx|tcg)-/.exec(f.id)?.[1]?.toUpperCase() ?? '';
  const title = i18n.exists(key) ? t(key, { accelerator: accel }) : f.message;
  return (
    <li className={`finding level-${f.level}`} data-finding={f.id}>
      <span className={`verdict verdict-${f.level}`}>{t(`host.level.${f.level}`)}</span>
      <div>
        <strong>{title}</strong>
        {title !== f.message && <p className="finding-detail">{f.message}</p>}
        {f.fix && (
          <p className="finding-fix">
            <span className="label">{t('host.fix')}</span>{' '}
            {i18n.exists(`${key}-fix`) ? t(`${key}-fix`, { accelerator: accel }) : f.fix}
          </p>
        )}
      </div>
    </li>
  );
}

function yesNo(t: (k: string) => string, v: boolean | null): string {
  return v === null ? t('host.notTested') : v ? t('common.yes') : t('common.no');
}

const ACCELERATOR_COLUMNS = ['accelerator', 'present', 'usable', 'smm', 'cpuModel', 'reason', 'probeTime'].map(
  (c) => `host.${c}`,
);

function HostFacts({ info }: { readonly info: HostInfo }) {
  const { t } = useTranslation();
  const fw = info.firmware;
  return (
    <>
      <h2>{t('host.accelerators')}</h2>
      <table className="accelerators">
        <TableHead columns={ACCELERATOR_COLUMNS} />
        <tbody>
          {info.accelerators.map((a) => (
            <tr key={a.name} data-accelerator={a.name}>
              <th scope="row">
                {a.name.toUpperCase()}
                {info.accelerator === a.name ? ` · ${t('host.inUse')}` : ''}
                {info.secureBootAccelerator === a.name ? ` · ${t('host.forSecureBoot')}` : ''}
              </th>
              <td>{yesNo(t, a.present)}</td>
              <td className={a.usable ? 'ok' : 'bad'}>{yesNo(t, a.usable)}</td>
              <td className={a.smm ? 'ok' : a.smm === false ? 'bad' : ''}>{yesNo(t, a.smm)}</td>
              <td>
                <code>{a.cpuModel ?? '—'}</code>
              </td>
              <td className="reason">
                {a.reason}
                {a.smmReason ? ` (SMM: ${a.smmReason})` : ''}
              </td>
              <td>{(a.probeMs / 1000).toFixed(1)} s</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('host.tools')}</h2>
      <dl className="summary">
        <dt>{t('host.machine')}</dt>
        <dd>
          {info.cpuModel} · {t('host.cores', { count: info.cores })} · {formatBytes(info.totalMemoryBytes)} ·{' '}
          {info.platform}/{info.arch}
        </dd>
        <dt>QEMU</dt>
        <dd>
          {info.qemu.binaries.length === 0
            ? t('host.missing')
            : info.qemu.binaries.map((b) => `${b.name} ${b.version ?? '?'} (${b.path})`).join(', ')}
        </dd>
        <dt>qemu-img</dt>
        <dd>{info.qemu.img ? `${info.qemu.img.version ?? '?'} (${info.qemu.img.path})` : t('host.missing')}</dd>
        <dt>OVMF (UEFI)</dt>
        <dd className="path">{fw.ovmf ? fw.ovmf.code : t('host.missing')}</dd>
        <dt>OVMF Secure Boot</dt>
        <dd className="path">{fw.ovmfSecureBoot ? fw.ovmfSecureBoot.code : t('host.missing')}</dd>
        <dt>SeaBIOS</dt>
        <dd className="path">{fw.seabios ? fw.seabios.bios : t('host.missing')}</dd>
        <dt>swtpm (TPM 2.0)</dt>
        <dd>{info.swtpm ? `${info.swtpm.version ?? '?'} (${info.swtpm.path})` : t('host.missing')}</dd>
        <dt>{t('host.dataFolder')}</dt>
        <dd>
          <span className="path">{info.dataFolder.path}</span> · {t(`host.storage.${info.dataFolder.storage}`)}
          {info.dataFolder.note ? ` (${info.dataFolder.note})` : ''}
        </dd>
        <dt>{t('host.probedAt')}</dt>
        <dd>
          {new Date(info.probedAt).toLocaleString()}
          {info.probeMs !== undefined ? ` · ${(info.probeMs / 1000).toFixed(1)} s` : ''}
        </dd>
      </dl>
    </>
  );
}

export function HostCheckView() {
  const { t } = useTranslation();
  const info = useAppStore((s) => s.hostInfo);
  const state = useAppStore((s) => s.hostState);
  const error = useAppStore((s) => s.hostError);
  const { loadHostInfo: load } = useAppActions();
  const order = { error: 0, warning: 1, info: 2, ok: 3 } as const;
  const findings = info ? [...info.findings].sort((a, b) => order[a.level] - order[b.level]) : [];
  return (
    <main className="host-check">
      <div className="list-header">
        <h1>{t('host.title')}</h1>
        <button type="button" onClick={() => void load(true)} disabled={state === 'loading'}>
          {state === 'loading' ? t('host.probing') : t('host.reprobe')}
        </button>
      </div>
      <p className="muted">{t('host.intro')}</p>
      {state === 'loading' && (
        <p role="status" className="muted">
          {t('host.probingNote')}
        </p>
      )}
      <ErrorText message={error} className="error" fromServer />
      {info && (
        <>
          <h2>{t('host.findings')}</h2>
          <ul className="findings">
            {findings.map((f) => (
              <Finding key={f.id} f={f} />
            ))}
          </ul>
          <HostFacts info={info} />
        </>
      )}
    </main>
  );
}
