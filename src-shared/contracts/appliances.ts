// The `appliances` control service: OVF/OVA appliances as VirtualBox writes and reads them —
// export a VM as an OVA (OVF 1.0 descriptor, streamOptimized VMDKs, SHA-256 manifest), check an
// OVA or a loose .ovf (OVF 1.x or 2.0) as VirtualBox's importer does, and import one as a new VM.
import * as z from 'zod';
import { hostPathArg } from './access';
import type { JobOptions } from './jobs';
import { job, method, type MethodSpec } from './method';
import type { PresetId } from '../os-presets';

export interface ApplianceCheck {
  readonly path: string;
  readonly name: string;
  /** Maru's preset for its guest OS. */
  readonly os: PresetId;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly firmware: 'bios' | 'uefi';
  readonly disks: readonly { readonly file: string; readonly capacityBytes: number; readonly controller: string }[];
  /** What VirtualBox's importer would refuse (empty: the package is sound). */
  readonly problems: readonly string[];
  /** What the descriptor describes that the imported VM does not get (extra NICs, CD images, USB…). */
  readonly notCarried: readonly string[];
}

export interface ApplianceExportResult {
  readonly path: string;
  readonly bytes: number;
  /** Files inside, in order: descriptor, disks, manifest. */
  readonly files: readonly string[];
}

export interface ApplianceImportResult {
  readonly vmId: string;
  readonly name: string;
  readonly warnings: readonly string[];
}

export interface ApplianceService {
  /** Reads and checks an OVA, or a `.ovf` with its files beside it (every digest verified); nothing is written. */
  check(path: string): Promise<ApplianceCheck>;
  /** Writes a powered-off VM as an OVA at `targetPath` (which must not exist), with progress and cancel. */
  export(vmRef: string, targetPath: string, job?: JobOptions): Promise<ApplianceExportResult>;
  /** Checks the appliance (.ova or .ovf), then makes a new VM of it: settings from the descriptor, its disks converted to qcow2 (the appliance's files are only read). */
  import(path: string, options: { name?: string | undefined }, job?: JobOptions): Promise<ApplianceImportResult>;
}

const vmRef = z.string().min(1).max(256);

export const applianceMethods = {
  check: method(z.tuple([hostPathArg('media')])),
  export: job(z.tuple([vmRef, hostPathArg('output')])),
  import: job(z.tuple([hostPathArg('media'), z.object({ name: z.string().min(1).max(256).optional() }).strict()])),
} satisfies Record<keyof ApplianceService, MethodSpec>;
