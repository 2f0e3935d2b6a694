// The `appliances` service: OVA export of a powered-off VM, the check VirtualBox's importer
// makes, and import of an appliance (an .ova, or a .ovf with its files beside it) as a new VM.
// Formats and checks: ova.ts, ovf-folder.ts, appliance-reader.ts, ovf.ts.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type {
  ApplianceCheck,
  ApplianceExportResult,
  ApplianceImportResult,
  ApplianceService,
} from '../../../src-shared/contracts/appliances';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import { AppError } from '../../../src-shared/errors';
import { MAX_NICS } from '../../../src-shared/vm-config';
import type { Library } from '../library/library-service';
import { checkAppliance, convertApplianceDisks, type ApplianceSource } from './appliance-reader';
import { openOva, writeOva } from './ova';
import { openOvfFolder } from './ovf-folder';
import { presetForSystem } from './ovf';

/** `.ovf`: a descriptor with its files beside it; anything else is read as an OVA package. */
function openAppliance(file: string): Promise<ApplianceSource> {
  return /\.ovf$/i.test(file) ? openOvfFolder(file) : openOva(file);
}

export interface AppliancesOptions {
  readonly library: Library;
  readonly maruHome: string;
  readonly qemuImgPath: () => Promise<string | null>;
}

export class Appliances implements ApplianceService {
  constructor(private readonly o: AppliancesOptions) {}

  private async qemuImg(what: string): Promise<string> {
    const p = await this.o.qemuImgPath();
    if (!p) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        `${what} needs qemu-img (it converts the disks), which is not installed. Install QEMU's tools (Debian: qemu-utils).`,
      );
    }
    return p;
  }

  async check(file: string): Promise<ApplianceCheck> {
    const c = await checkAppliance(await openAppliance(path.resolve(file)));
    const { system, disks, files } = c.ovf;
    return {
      path: c.source.path,
      name: system.name,
      os: presetForSystem(system),
      cpus: system.cpus,
      memoryMiB: system.memoryMiB,
      firmware: system.firmware,
      disks: system.disks.map((d) => {
        const disk = disks.find((x) => x.diskId === d.diskId);
        return {
          file: files.find((f) => f.id === disk?.fileRef)?.href ?? '',
          capacityBytes: disk?.capacityBytes ?? 0,
          controller: d.controller,
        };
      }),
      problems: c.problems,
      notCarried: c.ovf.notCarried,
    };
  }

  async export(vmRef: string, targetPath: string, job: JobOptions = {}): Promise<ApplianceExportResult> {
    const vm = await this.o.library.show(vmRef);
    const label = JSON.stringify(vm.config.name);
    if (vm.state === 'running' || vm.state === 'paused') {
      throw new AppError('BUSY', `VM ${label} is running: power it off (or save its state), then export it.`);
    }
    const target = path.resolve(targetPath);
    if (
      await stat(target).then(
        () => true,
        () => false,
      )
    ) {
      throw new AppError('ALREADY_EXISTS', `${target} exists; choose another file name (nothing was written).`);
    }
    const missing = vm.disks.find((d) => !d.exists);
    if (missing) throw new AppError('NOT_FOUND', `Disk ${missing.id} of VM ${label} is missing (${missing.path}).`);
    const qemuImg = await this.qemuImg('Exporting an appliance');
    const r = await writeOva(
      qemuImg,
      {
        name: vm.config.name,
        os: vm.config.os,
        cpus: vm.config.cpus,
        memoryMiB: vm.config.memoryMiB,
        disks: vm.disks.map((d) => ({ file: d.path, format: 'qcow2', virtualBytes: d.virtualSizeBytes })),
        nics: vm.config.nics,
      },
      target,
      job,
    );
    return { path: target, ...r };
  }

  async import(
    file: string,
    options: { name?: string | undefined },
    job: JobOptions = {},
  ): Promise<ApplianceImportResult> {
    const qemuImg = await this.qemuImg('Importing an appliance');
    const work = await mkdtemp(path.join(this.o.maruHome, '.appliance-import-'));
    try {
      const r = await convertApplianceDisks(qemuImg, await openAppliance(path.resolve(file)), work, {
        ...(job.signal ? { signal: job.signal } : {}),
        onProgress: (p) => job.onProgress?.({ phase: p.phase, fraction: 0.95 * p.fraction }),
      });
      const { system, notCarried } = r.check.ovf;
      const warnings: string[] = notCarried.map((n) => `Not carried over: ${n}`);
      if (r.disks.some((d) => d.controller === 'scsi' || d.controller === 'other')) {
        warnings.push('A disk was on a SCSI or unknown controller in the appliance; it is on SATA here.');
      }
      const made = await this.o.library.createWithDisks(
        {
          name: options.name ?? system.name,
          os: presetForSystem(system),
          cpus: Math.max(1, system.cpus),
          memoryMiB: Math.max(16, system.memoryMiB),
          firmware: system.firmware,
        },
        r.disks.map((d) => ({ file: d.file, bus: d.controller === 'ide' ? 'ide' : 'ahci' })),
        { ...(job.signal ? { signal: job.signal } : {}) },
        // A NAT adapter per ethernet item (the ones beyond four are listed as not carried over).
        { nicCount: Math.min(system.nics, MAX_NICS) },
      );
      job.onProgress?.({ phase: 'register', fraction: 1 });
      return { vmId: made.vm.config.id, name: made.vm.config.name, warnings: [...warnings, ...made.warnings] };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
