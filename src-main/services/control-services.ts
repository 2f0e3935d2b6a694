// Builds every control service implementation once — for the web console (`maru serve`), the
// Electron main process and the CLI alike — with the change events they emit, so the three
// front ends cannot drift apart. Only how engine hosts are spawned differs (a strategy).
import type { ControlEvent, ControlEventSource, ControlServices } from '../../src-shared/contracts/control';
import type { VmHostLimits } from '../../src-shared/contracts/host';
import { V86_MAX_MEMORY_MIB } from '../../src-shared/engine-choice';
import { Emitter } from '../../src-emulator/base/event';
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
import { VmLogs } from './vm-monitor/vm-logs';
import { VmStats } from './vm-monitor/vm-stats';
import type { EngineHostSpawner } from './vm-runtime/engine-host-spawner';
import { detachedNodeSpawner, VmRuntime } from './vm-runtime/vm-runtime';
import { probeOverridesFromEnv } from './vm-runtime/preflight';
import { Snapshots } from './snapshots/snapshot-service';
import { Disks } from './disks/disk-service';
import { Backups } from './backup/backup-service';
import { Appliances } from './appliance/appliance-service';
import { MediaManager } from './media-manager/media-inventory';

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
  readonly confineMedia?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** How engine hosts are spawned: detached Node processes unless the front end says otherwise. */
  readonly spawner?: EngineHostSpawner;
  /** Test and bench overrides of the runtime's waits. */
  readonly startTimeoutMs?: number;
}

/** The services plus the change events they emit. Dispose it when the front end ends. */
export interface ControlHost extends ControlEventSource {
  readonly services: ControlServices;
  readonly runtime: VmRuntime;
  dispose(): void;
}

export function createControlServices(opts: ControlServicesOptions): ControlHost {
  const { maruHome } = opts;
  const env = opts.env ?? process.env;
  const events = new Emitter<ControlEvent>();
  const qemuImgPath = async (): Promise<string | null> =>
    (await probeHost({ maruHome, ...probeOverridesFromEnv(env) })).qemu.img?.path ?? null;
  const library = new Library({ maruHome, onDidChange: () => events.fire({ type: 'library.changed' }), qemuImgPath });
  let snapshots: Snapshots | null = null;
  let disks: Disks | null = null;
  let backup: Backups | null = null;
  const runtime = new VmRuntime({
    maruHome,
    library,
    env,
    spawner: opts.spawner ?? detachedNodeSpawner(),
    ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
    beforeStart: async (ref) => {
      await disks?.assertIdle(ref);
      await backup?.assertIdle(ref);
      await snapshots?.recoverBeforeStart(ref);
    },
  });
  snapshots = new Snapshots({
    library,
    runtime,
    imageTools: async () => ({ qemuImgPath: await qemuImgPath() }),
    onDidChange: (vmId) => events.fire({ type: 'snapshots.changed', vmId }),
  });
  disks = new Disks({
    maruHome,
    library,
    releaseAbandoned: (ref) => runtime.releaseAbandoned(ref),
    qemuImgPath,
    onDidChangeVm: () => events.fire({ type: 'library.changed' }),
  });
  backup = new Backups({
    maruHome,
    library,
    snapshots,
    runtime,
    qemuImgPath,
    onDidReplace: (vmId) => events.fire({ type: 'snapshots.changed', vmId }),
  });
  const isoMedia = new Media({
    maruHome,
    extraFolders: isoFoldersFromEnv(env),
    confineDetection: opts.confineMedia ?? false,
  });
  const mediaManager = new MediaManager({
    maruHome,
    library,
    ejectMedium: (vmId, driveId) => runtime.changeMedium(vmId, driveId, null),
    onDidChange: () => events.fire({ type: 'library.changed' }),
  });
  let runtimeEvents: (() => void) | null = null;
  const services: ControlServices = {
    library,
    host: {
      info: ({ refresh }) => probeHost({ maruHome, refresh, ...probeOverridesFromEnv(env) }),
      limits: async () => vmHostLimits(library.hostLimits),
    },
    media: {
      detectIso: (p) => isoMedia.detectIso(p),
      listIsoFolder: (f) => isoMedia.listIsoFolder(f),
      list: () => mediaManager.list(),
      release: (p) => mediaManager.release(p),
      remove: (p) => mediaManager.remove(p),
    },
    vmLogs: new VmLogs(library),
    vmStats: new VmStats(maruHome, library),
    vm: runtime,
    snapshots,
    disks,
    backup,
    appliances: new Appliances({ library, maruHome, qemuImgPath }),
  };
  return {
    services,
    runtime,
    onEvent(listener) {
      runtimeEvents ??= runtime.onEvent((e) => events.fire(e));
      const sub = events.event(listener);
      return () => sub.dispose();
    },
    dispose() {
      runtimeEvents?.();
      runtime.dispose();
      events.dispose();
    },
  };
}
