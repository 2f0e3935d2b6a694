// Builds every control service implementation once, for the web console (`maru serve`) and
// the Electron main process alike, so the two front ends cannot drift apart.
import type { ControlServices } from '../../src-shared/contracts/control';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import { probeHost } from './host-probe/host-probe';
import { Media, isoFoldersFromEnv } from './iso-detect/media-service';
import { Library } from './library/library-service';
import {
  HOST_MEMORY_RESERVE_MIB,
  MIN_VM_MEMORY_MIB,
  hostMemoryMiB,
  maxVmMemoryMiB,
  type HostLimits,
} from './library/host-limits';
import { V86_MAX_MEMORY_MIB } from './library/vm-settings';
import { VmLogs } from './vm-monitor/vm-logs';
import { VmPower } from './vm-power/vm-power-service';
import { VmStats } from './vm-monitor/vm-stats';

/** The figures the library checks a VM's settings against, for the wizard's sliders. */
export function vmHostLimits(host: HostLimits): VmHostLimits {
  return {
    cores: host.cores,
    totalMemoryMiB: hostMemoryMiB(host),
    maxVmMemoryMiB: maxVmMemoryMiB(host),
    reserveMiB: HOST_MEMORY_RESERVE_MIB,
    minVmMemoryMiB: MIN_VM_MEMORY_MIB,
    v86MaxMemoryMiB: V86_MAX_MEMORY_MIB,
  };
}

export interface ControlServicesOptions {
  readonly maruHome: string;
  /** Confine ISO detection to the allowed ISO folders (true for the web console). */
  readonly confineMedia: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export function createControlServices(opts: ControlServicesOptions): ControlServices {
  const { maruHome } = opts;
  const library = new Library({ maruHome });
  return {
    library,
    host: {
      info: ({ refresh }) => probeHost({ maruHome, refresh }),
      limits: async () => vmHostLimits(library.hostLimits),
    },
    media: new Media({
      maruHome,
      extraFolders: isoFoldersFromEnv(opts.env ?? process.env),
      confineDetection: opts.confineMedia,
    }),
    vmLogs: new VmLogs(library),
    vmStats: new VmStats(maruHome, library),
    vm: new VmPower(maruHome, opts.env ?? process.env),
  };
}
