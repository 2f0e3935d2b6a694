// What the host probe found: the facts the host check page, `maru host` and the machine
// builder read. Produced by src-main/services/host-probe, cached in $MARU_HOME/host-probe.json.

export type AcceleratorName = 'kvm' | 'hvf' | 'whpx' | 'tcg';

/** One test boot the probe made: a CPU model on a machine type, and how it ended. */
export interface AcceleratorAttempt {
  /** The `-cpu` value, e.g. `host,arch-capabilities=off`. */
  readonly cpuModel: string;
  /** `pc` for the plain boot, `q35,smm=on` for the SMM test. */
  readonly machine: string;
  /** `ok`, `fpu-bad`, `died`, `refused`, `timeout` or `spawn-failed`. */
  readonly outcome: string;
  /** The guest printed its start marker (the accelerator ran the BIOS and the boot sector). */
  readonly started: boolean;
  /** QEMU's first meaningful stderr line or what went wrong; null on success. */
  readonly detail: string | null;
  readonly ms: number;
}

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
  /** Why `smm` is what it is, e.g. "System Management Mode not supported by this hypervisor." */
  readonly smmReason?: string;
  /** Every test boot made, in order (absent when none was made). */
  readonly attempts?: readonly AcceleratorAttempt[];
}

export interface ToolInfo {
  readonly path: string;
  readonly version: string | null;
}

export interface HostInfo {
  readonly probeVersion: number;
  readonly probedAt: string;
  readonly platform: string;
  /** Kernel release (`os.release()`), part of the cache key. */
  readonly osRelease?: string;
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
  readonly dataFolder: {
    readonly path: string;
    readonly storage: 'ssd' | 'hdd' | 'unknown';
    readonly device: string | null;
    /** Why the storage kind is unknown (e.g. a virtio disk always claims to be rotational). */
    readonly note?: string;
  };
  readonly accelerators: readonly AcceleratorVerdict[];
  /** Best usable accelerator (always at least `tcg` when QEMU is present), null when QEMU is absent. */
  readonly accelerator: AcceleratorName | null;
  /** Accelerator for VMs that need SMM (Secure Boot): the best one whose smm test passed. */
  readonly secureBootAccelerator: AcceleratorName | null;
  /** Findings with a verdict and a fix, for the host check page and `maru host`. */
  readonly findings: readonly HostFinding[];
  /** How long the whole probe took (test boots included); the cached value when reused. */
  readonly probeMs?: number;
}

export interface HostFinding {
  readonly id: string;
  readonly level: 'ok' | 'info' | 'warning' | 'error';
  readonly message: string;
  readonly fix?: string;
}
