// What the host probe found: the facts the host check page, `maru host` and the machine
// builder read. Produced by src-main/services/host-probe, cached in $MARU_HOME/host-probe.json.

export type AcceleratorName = 'kvm' | 'hvf' | 'whpx' | 'tcg';

export interface AcceleratorVerdict {
  readonly name: AcceleratorName;
  /** The host offers it at all (e.g. /dev/kvm exists and opens). */
  readonly present: boolean;
  /** A test guest booted under it and ran x87 code to its end. */
  readonly usable: boolean;
  /** `-machine smm=on` works under it (needed for Secure Boot); null when not tested. */
  readonly smm: boolean | null;
  /** The `-cpu` model that worked (e.g. `host`, `host,arch-capabilities=off`, `max`), null if none. */
  readonly cpuModel: string | null;
  /** Human reason, e.g. "KVM present but the test guest died: KVM internal error …". */
  readonly reason: string;
  /** How long the probe of this accelerator took. */
  readonly probeMs: number;
}

export interface ToolInfo {
  readonly path: string;
  readonly version: string | null;
}

export interface HostInfo {
  readonly probeVersion: number;
  readonly probedAt: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly totalMemoryBytes: number;
  readonly freeMemoryBytes: number;
  readonly qemu: {
    /** qemu-system-x86_64 / qemu-system-i386 found. */
    readonly binaries: readonly (ToolInfo & { readonly name: string })[];
    readonly img: ToolInfo | null;
    /** The newest x86 system binary is ≥ 6.2. */
    readonly versionOk: boolean;
  };
  readonly firmware: {
    readonly ovmf: { readonly code: string; readonly vars: string } | null;
    readonly ovmfSecureBoot: { readonly code: string; readonly vars: string } | null;
    readonly seabios: { readonly bios: string; readonly vgabios: string | null } | null;
  };
  readonly swtpm: ToolInfo | null;
  readonly dataFolder: { readonly path: string; readonly storage: 'ssd' | 'hdd' | 'unknown'; readonly device: string | null };
  readonly accelerators: readonly AcceleratorVerdict[];
  /** Best usable accelerator (always at least `tcg` when QEMU is present), null when QEMU is absent. */
  readonly accelerator: AcceleratorName | null;
  /** Accelerator for VMs that need SMM (Secure Boot): the best one whose smm test passed. */
  readonly secureBootAccelerator: AcceleratorName | null;
  /** Findings with a verdict and a fix, for the host check page and `maru host`. */
  readonly findings: readonly HostFinding[];
}

export interface HostFinding {
  readonly id: string;
  readonly level: 'ok' | 'info' | 'warning' | 'error';
  readonly message: string;
  readonly fix?: string;
}
