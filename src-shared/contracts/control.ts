// The whole control contract: service name → method → its spec (argument schema, whether it
// is a long job). Every front end — the renderer over Electron IPC or the web console socket,
// the CLI in-process — calls the same services through `createControlClient`, and every
// server side validates and dispatches through `dispatchControl`, applying the caller policy.
import type { z } from 'zod';
import { applianceMethods, type ApplianceService } from './appliances';
import { backupMethods, type BackupService } from './backup';
import { diskMethods, type DiskService } from './disks';
import { hostMethods, type HostService } from './host';
import { libraryMethods, type LibraryService } from './library';
import { mediaMethods, type MediaService } from './media';
import { snapshotMethods, type SnapshotService } from './snapshots';
import { vmMethods, type VmService } from './vm';
import { vmLogsMethods, vmStatsMethods, type VmLogsService, type VmStatsService } from './vm-monitor';
import { applyCallerPolicy, type CallerPolicy } from './access';
import type { AbortSignalLike, JobOptions, JobProgress } from './jobs';
import type { MethodSpec } from './method';
import type { VmPowerState } from './library';
import { AppError, reviveError } from '../errors';

export interface ControlServices {
  library: LibraryService;
  host: HostService;
  media: MediaService;
  vmLogs: VmLogsService;
  vmStats: VmStatsService;
  vm: VmService;
  snapshots: SnapshotService;
  disks: DiskService;
  backup: BackupService;
  appliances: ApplianceService;
}

export const controlContract = {
  library: libraryMethods,
  host: hostMethods,
  media: mediaMethods,
  vmLogs: vmLogsMethods,
  vmStats: vmStatsMethods,
  vm: vmMethods,
  snapshots: snapshotMethods,
  disks: diskMethods,
  backup: backupMethods,
  appliances: applianceMethods,
} satisfies { [S in keyof ControlServices]: Record<keyof ControlServices[S], MethodSpec> };

export type ServiceName = keyof ControlServices;

/**
 * Change events the services emit (front ends refresh what they show): the library's list
 * changed (a VM created, modified, renamed, deleted, cloned), a VM's run state changed, or a
 * VM's snapshot tree changed.
 */
export type ControlEvent =
  | { readonly type: 'library.changed' }
  | { readonly type: 'vm.changed'; readonly vmId: string; readonly state: VmPowerState | null }
  | { readonly type: 'snapshots.changed'; readonly vmId: string };

/** Where the services' change events come from. */
export interface ControlEventSource {
  onEvent(listener: (event: ControlEvent) => void): () => void;
}

/** A control call as it crosses a process boundary. */
export interface ControlRequest {
  readonly service: string;
  readonly method: string;
  readonly args: unknown;
}

function specOf(service: string, method: string): { service: ServiceName; spec: MethodSpec } {
  if (typeof service !== 'string' || !Object.hasOwn(controlContract, service)) {
    throw new AppError('INVALID_ARGUMENT', `Unknown service "${String(service)}".`);
  }
  const methods = controlContract[service as ServiceName] as Record<string, MethodSpec>;
  if (typeof method !== 'string' || !Object.hasOwn(methods, method)) {
    throw new AppError('INVALID_ARGUMENT', `Unknown method "${service}.${String(method)}".`);
  }
  return { service: service as ServiceName, spec: methods[method]! };
}

/** True when `service.method` is a long job (progress and cancel apply); false for unknown methods. */
export function isJobMethod(service: string, method: string): boolean {
  try {
    return specOf(service, method).spec.jobIndex !== null;
  } catch {
    return false;
  }
}

/**
 * Validates a control call against the contract: a known service, a known method (own
 * properties only, so `__proto__` is unknown), and arguments matching its schema. Throws
 * AppError('INVALID_ARGUMENT') otherwise.
 */
export function validateControlRequest(req: ControlRequest): {
  service: ServiceName;
  method: string;
  spec: MethodSpec;
  args: unknown[];
} {
  const { service, spec } = specOf(req.service, req.method);
  const parsed = (spec.args as z.ZodType).safeParse(req.args);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    throw new AppError('INVALID_ARGUMENT', `Invalid arguments for ${service}.${req.method}: ${why}`);
  }
  return { service, method: req.method, spec, args: parsed.data as unknown[] };
}

export interface DispatchOptions {
  /** What this caller may touch (the web console confines host paths and bind addresses). */
  readonly policy: CallerPolicy;
  /** Progress and cancel for a job method (ignored for others). */
  readonly job?: JobOptions;
}

/** Validates a request, applies the caller policy to its marked arguments, and calls it. */
export async function dispatchControl(
  impl: ControlServices,
  req: ControlRequest,
  options: DispatchOptions,
): Promise<unknown> {
  const { service, method, spec, args } = validateControlRequest(req);
  const checked = (await applyCallerPolicy(spec.args, args, options.policy)) as unknown[];
  if (spec.jobIndex !== null) checked[spec.jobIndex] = options.job ?? {};
  const target = impl[service] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  return target[method]!.apply(target, checked);
}

/** How a front end reaches the services: calls (with progress and cancel for jobs) and events. */
export interface ControlTransport {
  call(service: ServiceName, method: string, args: readonly unknown[], job?: JobOptions): Promise<unknown>;
  onEvent(listener: (event: ControlEvent) => void): () => void;
}

/**
 * The typed client: the same `ControlServices` interface the server implements, built from
 * the contract table over any transport. A job method's JobOptions (the argument after its
 * declared ones) is handed to the transport, which carries progress and cancel.
 */
export function createControlClient(transport: ControlTransport): ControlServices {
  const client: Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>> = {};
  for (const [service, methods] of Object.entries(controlContract) as [ServiceName, Record<string, MethodSpec>][]) {
    const stubs: Record<string, (...a: unknown[]) => Promise<unknown>> = {};
    for (const [name, spec] of Object.entries(methods)) {
      stubs[name] = (...a: unknown[]) => {
        const called =
          spec.jobIndex === null
            ? transport.call(service, name, a)
            : transport.call(service, name, a.slice(0, spec.jobIndex), plainJob(a[spec.jobIndex] as JobOptions));
        return called.catch((err: unknown) => {
          throw reviveError(err);
        });
      };
    }
    client[service] = stubs;
  }
  return client as unknown as ControlServices;
}

/**
 * A job's hooks as plain data and functions — what a context bridge can carry (an AbortSignal
 * cannot cross it; functions are proxied): the signal's state (a getter, read once by a bridge
 * when the call starts) and its listener methods bound to it.
 */
function plainJob(job: JobOptions | undefined): JobOptions | undefined {
  if (!job) return undefined;
  const { onProgress, signal } = job;
  return {
    ...(onProgress ? { onProgress: (p: JobProgress) => onProgress(p) } : {}),
    ...(signal
      ? {
          signal: {
            get aborted() {
              return signal.aborted;
            },
            addEventListener: (type, listener, options) => signal.addEventListener(type, listener, options),
            removeEventListener: (type, listener) => signal.removeEventListener(type, listener),
          } satisfies AbortSignalLike,
        }
      : {}),
  };
}

/**
 * The in-process transport (the CLI, tests): the same validation, caller policy and job
 * handling as a remote call, without a process boundary.
 */
export function inProcessTransport(
  impl: ControlServices,
  events: ControlEventSource,
  policy: CallerPolicy,
): ControlTransport {
  return {
    call: (service, method, args, job) =>
      dispatchControl(impl, { service, method, args }, { policy, ...(job ? { job } : {}) }),
    onEvent: (listener) => events.onEvent(listener),
  };
}
