// The VM library: a searchable list with state badges and a details pane.
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import { selectFilteredVms, useAppStore } from '../store/app-store';

function formatMiB(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

function DetailsPane() {
  const { t } = useTranslation();
  const details = useAppStore((s) => s.details);
  const selected = useAppStore(useShallow((s) => s.vms.find((v) => v.id === s.selectedId)));
  if (!selected) return <p className="muted">{t('library.select')}</p>;
  if (selected.kind === 'inaccessible') {
    return (
      <section aria-label={t('library.details')} className="details">
        <h2>{t('library.inaccessible')}</h2>
        <dl>
          <dt>{t('library.folder')}</dt>
          <dd>{selected.folder}</dd>
          <dt>{t('library.error')}</dt>
          <dd className="error">{selected.error}</dd>
        </dl>
      </section>
    );
  }
  const c = details?.config;
  return (
    <section aria-label={t('library.details')} className="details">
      <h2>{selected.name}</h2>
      <dl>
        <dt>{t('library.os')}</dt>
        <dd>{t(`os.${selected.os}`)}</dd>
        <dt>{t('library.state')}</dt>
        <dd>{t(`state.${selected.state}`)}</dd>
        <dt>{t('library.cpus')}</dt>
        <dd>{selected.cpus}</dd>
        <dt>{t('library.memory')}</dt>
        <dd>{formatMiB(selected.memoryMiB)}</dd>
        <dt>{t('library.firmware')}</dt>
        <dd>
          {selected.firmware === 'uefi' ? 'UEFI' : 'BIOS'}
          {c?.secureBoot ? ' · Secure Boot' : ''}
          {c?.tpm ? ' · TPM 2.0' : ''}
        </dd>
        <dt>{t('library.engine')}</dt>
        <dd>{selected.engine}</dd>
        <dt>{t('library.uuid')}</dt>
        <dd>
          <code>{selected.id}</code>
        </dd>
      </dl>
    </section>
  );
}

export function LibraryView() {
  const { t } = useTranslation();
  const vms = useAppStore(useShallow(selectFilteredVms));
  const total = useAppStore((s) => s.vms.length);
  const filter = useAppStore((s) => s.filter);
  const setFilter = useAppStore((s) => s.setFilter);
  const selectedId = useAppStore((s) => s.selectedId);
  const select = useAppStore((s) => s.select);
  const error = useAppStore((s) => s.libraryError);

  return (
    <div className="library">
      <section className="vm-list" aria-label={t('library.title')}>
        <div className="list-header">
          <h1>{t('library.title')}</h1>
          <span className="muted">{t('library.count', { count: total })}</span>
        </div>
        <input
          type="search"
          placeholder={t('library.search')}
          aria-label={t('library.search')}
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        {total === 0 ? (
          <p className="muted">{t('library.empty')}</p>
        ) : (
          <ul role="listbox" aria-label={t('library.title')}>
            {vms.map((vm) => (
              <li
                key={vm.id}
                role="option"
                aria-selected={vm.id === selectedId}
                tabIndex={0}
                className={vm.id === selectedId ? 'selected' : ''}
                data-vm-id={vm.id}
                onClick={() => void select(vm.id)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' || e.key === ' ') void select(vm.id);
                }}
              >
                <span className="vm-name">{vm.kind === 'ok' ? vm.name : vm.id}</span>
                <span className={`badge state-${vm.kind === 'ok' ? vm.state : 'inaccessible'}`}>
                  {vm.kind === 'ok' ? t(`state.${vm.state}`) : t('state.inaccessible')}
                </span>
                {vm.kind === 'ok' && <span className="muted vm-os">{t(`os.${vm.os}`)}</span>}
              </li>
            ))}
          </ul>
        )}
      </section>
      <DetailsPane />
    </div>
  );
}
