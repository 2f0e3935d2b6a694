// The VM power control service: start (a job: progress + cancel), stop, pause, resume, reset,
// the live CD of a running VM, and its engine status. Backed by the engine launcher.
import * as z from 'zod';
import type { EngineStatus, StopResult } from './engine';
import type { JobOptions } from './library';

export interface VmStartResult {
  readonly vmId: string;
  readonly status: EngineStatus;
}

export interface VmPowerService {
  /** Starts the VM in an engine host and waits until it runs (seconds; cancellable). */
  start(vmRef: string, job?: JobOptions): Promise<VmStartResult>;
  /** ACPI power button (`force: false`: forced off after the timeout) or pull the plug. */
  stop(vmRef: string, options: { force: boolean }): Promise<StopResult>;
  pause(vmRef: string): Promise<EngineStatus>;
  resume(vmRef: string): Promise<EngineStatus>;
  reset(vmRef: string): Promise<EngineStatus>;
  /** Puts an ISO in a running VM's CD drive (for this run). */
  attachIso(vmRef: string, isoPath: string): Promise<EngineStatus>;
  eject(vmRef: string): Promise<EngineStatus>;
  /** The engine host's status, or null when the VM is not running. */
  status(vmRef: string): Promise<EngineStatus | null>;
}

const vmRef = z.string().min(1).max(256);

export const vmPowerMethods = {
  start: z.tuple([vmRef]),
  stop: z.tuple([vmRef, z.object({ force: z.boolean() })]),
  pause: z.tuple([vmRef]),
  resume: z.tuple([vmRef]),
  reset: z.tuple([vmRef]),
  attachIso: z.tuple([vmRef, z.string().min(1).max(4096)]),
  eject: z.tuple([vmRef]),
  status: z.tuple([vmRef]),
} satisfies Record<keyof VmPowerService, z.ZodType>;
