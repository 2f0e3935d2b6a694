// A running VM's performance over the last two minutes: CPU %, memory (RSS) and disk I/O of
// its engine host and children, sampled once a second from the host. Stopped: says so.
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmStatsSample } from '../../src-shared/contracts/vm-monitor';
import { ErrorText } from '../components/ErrorText';
import { LineChart } from '../components/LineChart';
import { formatBytes } from '../../src-shared/format-bytes';
import { addSample, PERF_WINDOW, toSeries } from '../perf/perf-series';
import { useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';

export function PerfGraphs({ vmId }: { readonly vmId: string }) {
  const { t } = useTranslation();
  const services = useAppStore((s) => s.services);
  const [samples, setSamples] = useState<VmStatsSample[]>([]);
  const [last, setLast] = useState<VmStatsSample | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setSamples([]);
    setLast(null);
    const poll = () =>
      services?.vmStats
        .sample(vmId)
        .then((s) => {
          if (!live) return;
          setLast(s);
          setSamples((prev) => addSample(prev, s));
          setError(null);
        })
        .catch((err: unknown) => live && setError(messageOf(err)));
    void poll();
    const timer = setInterval(() => void poll(), 1000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [services, vmId]);

  const series = toSeries(samples);
  const newest = series[series.length - 1];
  const cores = last?.hostCores ?? 1;
  const pct = (y: number) => `${Math.round(y)} %`;
  const rate = (y: number) => `${formatBytes(y)}/s`;
  return (
    <section className="perf" aria-label={t('perf.title')}>
      <ErrorText message={error} />
      {last && !last.running && <p className="muted">{t('perf.notRunning')}</p>}
      {last && <p className="muted">{t('perf.diskAllocated', { size: formatBytes(last.diskAllocatedBytes) })}</p>}
      {last?.running && (
        <>
          <p className="muted">{t('perf.pids', { pids: last.pids.join(', ') })}</p>
          {series.length === 0 && <p className="muted">{t('perf.collecting')}</p>}
          <div className="charts">
            <LineChart
              title={t('perf.cpu')}
              windowSeconds={PERF_WINDOW}
              yMax={100 * cores}
              formatY={pct}
              series={[
                { label: t('perf.cpu'), className: 's1', points: series.map((p) => ({ x: p.t, y: p.cpuPercent })) },
              ]}
              summary={newest?.cpuPercent != null ? `${t('perf.cpu')}: ${pct(newest.cpuPercent)}` : t('perf.unknown')}
            />
            <LineChart
              title={t('perf.memory')}
              windowSeconds={PERF_WINDOW}
              formatY={(y) => formatBytes(y)}
              series={[
                { label: t('perf.rss'), className: 's2', points: series.map((p) => ({ x: p.t, y: p.rssBytes })) },
              ]}
              summary={
                newest?.rssBytes != null ? `${t('perf.rss')}: ${formatBytes(newest.rssBytes)}` : t('perf.unknown')
              }
            />
            <LineChart
              title={t('perf.disk')}
              windowSeconds={PERF_WINDOW}
              formatY={rate}
              series={[
                { label: t('perf.read'), className: 's1', points: series.map((p) => ({ x: p.t, y: p.readBytesPerS })) },
                {
                  label: t('perf.write'),
                  className: 's3',
                  points: series.map((p) => ({ x: p.t, y: p.writeBytesPerS })),
                },
              ]}
              summary={
                newest?.readBytesPerS != null && newest.writeBytesPerS != null
                  ? `${t('perf.read')} ${rate(newest.readBytesPerS)}, ${t('perf.write')} ${rate(newest.writeBytesPerS)}`
                  : t('perf.unknown')
              }
            />
          </div>
          {last.cpuSeconds === null && <p className="muted">{t('perf.noProc')}</p>}
        </>
      )}
    </section>
  );
}
