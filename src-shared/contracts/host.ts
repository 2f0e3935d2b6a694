// The host control service: what the host check page and `maru host` read.
import * as z from 'zod';
import type { HostInfo } from '../host-info';

export interface HostService {
  /** The cached probe, or a new one when `refresh` (boots test guests: seconds). */
  info(options: { refresh: boolean }): Promise<HostInfo>;
}

export const hostMethods = {
  info: z.tuple([z.object({ refresh: z.boolean() })]),
} satisfies Record<keyof HostService, z.ZodType>;
