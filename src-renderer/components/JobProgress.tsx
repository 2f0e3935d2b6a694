// A long job under way (create, clone, start): what it is doing, a progress bar and its
// Cancel button. The job itself is the caller's (useJob for a dialog, the store for a start).
import { useCallback, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { JobOptions } from '../../src-shared/contracts/jobs';

export interface JobProgressProps {
  /** What the job is doing now (also the progress bar's name). */
  readonly label: string;
  readonly fraction: number;
  readonly onCancel: () => void;
  /** The Cancel button's text (default “Cancel”). */
  readonly cancelLabel?: string;
}

export function JobProgress({ label, fraction, onCancel, cancelLabel }: JobProgressProps) {
  const { t } = useTranslation();
  return (
    <div className="job" role="status">
      <span>{label}</span>
      <progress max={1} value={fraction} aria-label={label} />
      <button type="button" onClick={onCancel}>
        {cancelLabel ?? t('common.cancel')}
      </button>
    </div>
  );
}

export interface JobState {
  readonly phase: string;
  readonly fraction: number;
  readonly cancel: () => void;
}

/**
 * A dialog's job: `run(fn)` hands `fn` the JobOptions (progress into `job`, cancel through its
 * AbortController); `job` is null when none runs.
 */
export function useJob(): { job: JobState | null; run: <T>(fn: (options: JobOptions) => Promise<T>) => Promise<T> } {
  const [job, setJob] = useState<JobState | null>(null);
  const run = useCallback(async <T,>(fn: (options: JobOptions) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    setJob({ phase: '', fraction: 0, cancel: () => controller.abort() });
    try {
      return await fn({
        signal: controller.signal,
        onProgress: (p) => setJob((j) => (j ? { ...j, phase: p.phase, fraction: p.fraction } : j)),
      });
    } finally {
      setJob(null);
    }
  }, []);
  return { job, run };
}
