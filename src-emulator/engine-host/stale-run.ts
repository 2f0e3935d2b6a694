// Recovery after an engine host died without cleaning up (killed, crashed): its engine's
// leftovers (QEMU's qemu and swtpm, say) may still run. They are found through the last
// state.json and ended by that engine kind's own recovery (engines/engine-leftovers.ts).
import type { EngineRunState } from '../../src-shared/contracts/engine';
import { readRunState } from '../../src-node/run-folder';
import { recoverEngineLeftovers } from '../engines/engine-leftovers';

/** What recovery did. */
export interface StaleRunRecovery {
  /** Leftover processes ended, e.g. "qemu pid 123 (quit over QMP)". */
  readonly ended: string[];
  /** The previous run's state file, when there was one. */
  readonly previous: EngineRunState | null;
}

/**
 * Ends the leftovers of a dead engine host of VM `vmId` whose run folder is `runFolder`.
 * Only what the engine's recovery can prove belongs to this VM is touched.
 */
export async function recoverStaleRun(
  runFolder: string,
  vmId: string,
  log: (line: string) => void,
): Promise<StaleRunRecovery> {
  const previous = readRunState(runFolder);
  if (!previous || previous.vmId !== vmId) return { ended: [], previous };
  const ended = await recoverEngineLeftovers(previous.engine, previous.engineRecovery, { vmId, log });
  for (const e of ended) log(`ended leftover ${e}`);
  return { ended, previous };
}
