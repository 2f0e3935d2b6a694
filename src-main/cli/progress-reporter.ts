// Shows a long job's progress on stderr: a redrawn bar on a terminal, one line per phase
// otherwise (so logs and tests see it too).
import type { JobProgress } from '../../src-shared/contracts/jobs';

export function progressReporter(stderr: NodeJS.WritableStream & { isTTY?: boolean }): (p: JobProgress) => void {
  let lastPhase = '';
  let lastPct = -1;
  return (p) => {
    const pct = Math.floor(Math.max(0, Math.min(1, p.fraction)) * 100);
    if (stderr.isTTY) {
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stderr.write(
        `\r${p.phase.padEnd(10)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%`,
      );
      if (pct === 100) stderr.write('\n');
    } else if (p.phase !== lastPhase || (pct === 100 && lastPct !== 100)) {
      stderr.write(`${p.phase}: ${pct}%\n`);
    }
    lastPhase = p.phase;
    lastPct = pct;
  };
}
