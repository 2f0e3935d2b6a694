// Every engine Maru has, by kind: how the engine host creates one. Each engine's code loads
// only when a VM needs it (a QEMU VM never compiles v86, and the reverse), so the engine host
// itself knows no engine by name.
import type { EngineKind } from '../../src-shared/contracts/engine';
import { AppError } from '../../src-shared/errors';
import type { HostInfo } from '../../src-shared/host-info';
import type { VmConfig } from '../../src-shared/vm-config';
import type { Engine } from './engine';

/** What the engine host gives every engine it creates. */
export interface EngineCreateOptions {
  readonly config: VmConfig;
  readonly host: HostInfo;
  readonly paths: { readonly vmFolder: string; readonly socketFolder: string; readonly logsFolder: string };
  /** Default wait for an ACPI power-off before forcing it (ms). */
  readonly acpiTimeoutMs: number;
  /** Writes a line to the engine host's log. */
  readonly log: (line: string) => void;
  /** The previous run ended abnormally (killed, crashed, aborted): check what it may have damaged first. */
  readonly afterAbnormalEnd: boolean;
  /** `runtimeInfo()` changed outside a state change (a child process started): the host records it. */
  readonly onDidChangeRuntimeInfo: () => void;
}

type EngineFactory = (options: EngineCreateOptions) => Promise<Engine>;

const ENGINES = {
  qemu: async (o) => {
    const { QemuEngine } = await import('./qemu/qemu-engine');
    return new QemuEngine({
      config: o.config,
      host: o.host,
      paths: o.paths,
      acpiTimeoutMs: o.acpiTimeoutMs,
      log: o.log,
      repairImagesFirst: o.afterAbnormalEnd,
      onDidSpawn: o.onDidChangeRuntimeInfo,
    });
  },
  v86: async (o) => {
    const { V86Engine } = await import('./v86/v86-engine');
    return new V86Engine({ config: o.config, host: o.host, paths: o.paths, log: o.log });
  },
} satisfies Record<EngineKind, EngineFactory>;

/** Creates the `kind` engine for one VM (not started yet). */
export async function createEngine(kind: EngineKind, options: EngineCreateOptions): Promise<Engine> {
  if (!Object.hasOwn(ENGINES, kind)) {
    throw new AppError(
      'UNSUPPORTED',
      `This engine host has no engine ${JSON.stringify(kind)} (it knows ${Object.keys(ENGINES).join(', ')}): ` +
        'the launcher and the engine host come from different Maru builds. Rebuild or reinstall Maru.',
    );
  }
  return ENGINES[kind](options);
}
