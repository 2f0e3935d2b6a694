// The host control service: what the host check page and `maru host` read, and the limits
// the new-VM wizard's sliders use (the same figures the library checks settings against).
import * as z from 'zod';
import type { HostInfo } from '../host-info';
import { method, type MethodSpec } from './method';

/** What one VM may be given on this host (see src-main/services/library/host-limits.ts). */
export interface VmHostLimits {
  readonly cores: number;
  readonly totalMemoryMiB: number;
  /** Most memory for one VM: host RAM minus the reserve (the library refuses more). */
  readonly maxVmMemoryMiB: number;
  /** RAM always left to the host. */
  readonly reserveMiB: number;
  readonly minVmMemoryMiB: number;
  /** The v86 engine's ceiling. */
  readonly v86MaxMemoryMiB: number;
}

export interface HostService {
  /** The cached probe, or a new one when `refresh` (boots test guests: seconds). */
  info(options: { refresh: boolean }): Promise<HostInfo>;
  /** Immediate (no probe): cores and memory limits for a VM's settings. */
  limits(): Promise<VmHostLimits>;
}

export const hostMethods = {
  info: method(z.tuple([z.object({ refresh: z.boolean() })])),
  limits: method(z.tuple([])),
} satisfies Record<keyof HostService, MethodSpec>;
