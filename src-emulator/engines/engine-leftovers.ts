// After an engine host died without cleaning up, what its engine left running is ended by
// that engine kind's own recovery, loaded on demand: the engine host and the VM runtime
// dispatch here by kind and never know what an engine leaves behind.
import type { EngineKind } from '../../src-shared/contracts/engine';

/** What a recovery knows besides the engine's own record. */
export interface LeftoverContext {
  /** The VM whose engine host died (leftovers must prove they belong to it). */
  readonly vmId: string;
  readonly log: (line: string) => void;
}

/** Ends the leftovers named in an engine's recovery record; returns what it ended, for the log and the user. */
type LeftoverRecovery = (record: unknown, ctx: LeftoverContext) => Promise<string[]>;

const RECOVERIES = {
  qemu: async (record, ctx) => (await import('./qemu/qemu-recovery')).recoverQemuLeftovers(record, ctx),
  // v86 runs inside the engine host: nothing of it outlives its host.
  v86: async () => [],
} satisfies Record<EngineKind, LeftoverRecovery>;

/**
 * Ends what a dead engine host's `kind` engine left running, as its recovery record
 * (state.json `engineRecovery`) names it. An unknown kind (a newer Maru's state file) ends nothing.
 */
export async function recoverEngineLeftovers(
  kind: EngineKind,
  record: unknown,
  ctx: LeftoverContext,
): Promise<string[]> {
  if (!Object.hasOwn(RECOVERIES, kind)) {
    ctx.log(`the dead engine host ran an unknown engine ${JSON.stringify(kind)}: nothing of it is ended`);
    return [];
  }
  return RECOVERIES[kind](record, ctx);
}
