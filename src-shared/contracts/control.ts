// The whole control contract: service name → method → argument schema. Electron IPC, the
// web console's control socket and the CLI all route and validate through this one table.
import type { z } from 'zod';
import { hostMethods, type HostService } from './host';
import { libraryMethods, type LibraryService } from './library';
import { mediaMethods, type MediaService } from './media';
import { vmPowerMethods, type VmPowerService } from './vm-power';
import { vmLogsMethods, vmStatsMethods, type VmLogsService, type VmStatsService } from './vm-monitor';
import { AppError } from '../errors';

export interface ControlServices {
  library: LibraryService;
  host: HostService;
  media: MediaService;
  vmLogs: VmLogsService;
  vmStats: VmStatsService;
  vm: VmPowerService;
}

export const controlContract = {
  library: libraryMethods,
  host: hostMethods,
  media: mediaMethods,
  vmLogs: vmLogsMethods,
  vmStats: vmStatsMethods,
  vm: vmPowerMethods,
} satisfies { [S in keyof ControlServices]: Record<keyof ControlServices[S], z.ZodType> };

export type ServiceName = keyof ControlServices;
export type MethodName<S extends ServiceName> = keyof ControlServices[S] & string;

/** A control call as it crosses a process boundary. */
export interface ControlRequest {
  readonly service: string;
  readonly method: string;
  readonly args: unknown;
  /** For job methods: the front end's progress/cancel hooks, put at `index` after validation. */
  readonly job?: { readonly index: number; readonly options: unknown };
}

/**
 * Validates a control call against the contract: a known service, a known method, and
 * arguments matching its schema. Throws AppError('INVALID_ARGUMENT') otherwise.
 */
export function validateControlRequest(req: ControlRequest): { service: ServiceName; method: string; args: unknown[] } {
  if (!Object.hasOwn(controlContract, req.service)) {
    throw new AppError('INVALID_ARGUMENT', `Unknown service "${String(req.service)}".`);
  }
  const service = req.service as ServiceName;
  const methods = controlContract[service] as Record<string, z.ZodType>;
  if (!Object.hasOwn(methods, req.method)) {
    throw new AppError('INVALID_ARGUMENT', `Unknown method "${service}.${String(req.method)}".`);
  }
  const schema = methods[req.method]!;
  const parsed = schema.safeParse(req.args);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    throw new AppError('INVALID_ARGUMENT', `Invalid arguments for ${service}.${req.method}: ${why}`);
  }
  return { service, method: req.method, args: parsed.data as unknown[] };
}

/** Calls a validated request on the service implementations. */
export async function dispatchControl(impl: ControlServices, req: ControlRequest): Promise<unknown> {
  const { service, method, args } = validateControlRequest(req);
  if (req.job) args[req.job.index] = req.job.options;
  const target = impl[service] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  return target[method]!.apply(target, args);
}
