// A VM's logs: the files in its logs/ folder, the tail of the chosen one, refreshed on demand
// or every few seconds while the VM runs ("follow").
import { useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmLogFile, VmLogText } from '../../src-shared/contracts/vm-monitor';
import { ErrorText } from '../components/ErrorText';
import { formatBytes } from '../../src-shared/format-bytes';
import { useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';

const TAIL_BYTES = 256 * 1024;

export function LogViewer({ vmId, running }: { readonly vmId: string; readonly running: boolean }) {
  const { t } = useTranslation();
  const id = useId();
  const services = useAppStore((s) => s.services);
  const [files, setFiles] = useState<VmLogFile[] | null>(null);
  const [name, setName] = useState<string | null>(null);
  const [log, setLog] = useState<VmLogText | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    setError(null);
    services?.vmLogs
      .list(vmId)
      .then((f) => {
        if (!live) return;
        setFiles(f);
        setName((n) => (n && f.some((x) => x.name === n) ? n : (f[0]?.name ?? null)));
      })
      .catch((err: unknown) => live && setError(messageOf(err)));
    return () => {
      live = false;
    };
  }, [services, vmId, tick]);

  useEffect(() => {
    if (!name) {
      setLog(null);
      return;
    }
    let live = true;
    services?.vmLogs
      .read(vmId, name, TAIL_BYTES)
      .then((l) => live && setLog(l))
      .catch((err: unknown) => live && setError(messageOf(err)));
    return () => {
      live = false;
    };
  }, [services, vmId, name, tick]);

  useEffect(() => {
    if (!running || !follow) return;
    const timer = setInterval(() => setTick((n) => n + 1), 3000);
    return () => clearInterval(timer);
  }, [running, follow]);

  return (
    <section className="logs" aria-label={t('logs.title')}>
      <div className="toolbar">
        <label htmlFor={id}>{t('logs.file')}</label>
        <select id={id} value={name ?? ''} onChange={(e) => setName(e.target.value)} disabled={!files?.length}>
          {files?.map((f) => (
            <option key={f.name} value={f.name}>
              {f.name} ({formatBytes(f.sizeBytes)})
            </option>
          ))}
        </select>
        <button type="button" onClick={() => setTick((n) => n + 1)}>
          {t('logs.reload')}
        </button>
        {running && (
          <label className="check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            {t('logs.follow')}
          </label>
        )}
      </div>
      <ErrorText message={error} />
      {files && files.length === 0 && <p className="muted">{t('logs.none')}</p>}
      {log && (
        <>
          {log.truncated && (
            <p className="muted">
              {t('logs.truncated', { shown: formatBytes(TAIL_BYTES), size: formatBytes(log.sizeBytes) })}
            </p>
          )}
          <pre className="log-text" tabIndex={0} aria-label={t('logs.content', { name: log.name })}>
            {log.text || t('logs.empty')}
          </pre>
        </>
      )}
    </section>
  );
}
