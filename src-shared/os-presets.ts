// OS presets: what the new-VM wizard and `maru create --os` fill in, and the minimums a
// guest needs (Windows 11's are checked by the readiness check).

export const PRESET_IDS = [
  'windows11',
  'windows10',
  'windows7',
  'windowsxp',
  'windows98',
  'dos',
  'linux64',
  'linux32',
  'other',
] as const;
export type PresetId = (typeof PRESET_IDS)[number];

export type Chipset = 'q35' | 'pc';
export type DiskBus = 'ahci' | 'ide' | 'virtio' | 'virtio-scsi' | 'nvme';
export type NicModel = 'e1000e' | 'e1000' | 'rtl8139' | 'ne2k_pci' | 'virtio-net';
export type VgaModel = 'std' | 'cirrus' | 'virtio' | 'vmware';
export type Firmware = 'bios' | 'uefi';
export type EnginePreference = 'qemu' | 'v86';

export interface OsPreset {
  readonly id: PresetId;
  /** English label; the UI translates by id. */
  readonly label: string;
  readonly family: 'windows' | 'dos' | 'linux' | 'other';
  /** Guest architecture: decides qemu-system-x86_64 vs qemu-system-i386, and whether v86 can run it. */
  readonly arch: 'x86_64' | 'i386';
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  readonly firmware: Firmware;
  readonly secureBoot: boolean;
  readonly tpm: boolean;
  readonly chipset: Chipset;
  readonly diskBus: DiskBus;
  /** Buses the guest has drivers for out of the box (the wizard and `maru storage` offer these first). */
  readonly diskBuses: readonly DiskBus[];
  /** A floppy drive (A:): DOS and Windows 9x/XP still install drivers and boot disks from floppies. */
  readonly floppy: boolean;
  readonly nic: NicModel;
  readonly vga: VgaModel;
  /** Which engine `engine: auto` prefers for this guest when both can run it. */
  readonly engine: EnginePreference;
  /** Hard requirements of the guest OS (Windows 11's installer refuses less). */
  readonly minimum?: { readonly cpus: number; readonly memoryMiB: number; readonly diskGiB: number };
}

/** Per preset, the guest: its name, family, architecture and the resources it gets. */
const GUESTS: Readonly<
  Record<PresetId, Pick<OsPreset, 'label' | 'family' | 'arch' | 'cpus' | 'memoryMiB' | 'diskGiB'>>
> = {
  windows11: { label: 'Windows 11', family: 'windows', arch: 'x86_64', cpus: 2, memoryMiB: 4096, diskGiB: 64 },
  windows10: { label: 'Windows 10', family: 'windows', arch: 'x86_64', cpus: 2, memoryMiB: 4096, diskGiB: 64 },
  windows7: { label: 'Windows 7', family: 'windows', arch: 'x86_64', cpus: 1, memoryMiB: 2048, diskGiB: 32 },
  windowsxp: { label: 'Windows XP', family: 'windows', arch: 'i386', cpus: 1, memoryMiB: 512, diskGiB: 10 },
  windows98: { label: 'Windows 98', family: 'windows', arch: 'i386', cpus: 1, memoryMiB: 128, diskGiB: 2 },
  dos: { label: 'MS-DOS / FreeDOS', family: 'dos', arch: 'i386', cpus: 1, memoryMiB: 32, diskGiB: 1 },
  linux64: { label: 'Linux (64-bit)', family: 'linux', arch: 'x86_64', cpus: 2, memoryMiB: 2048, diskGiB: 20 },
  linux32: { label: 'Linux (32-bit)', family: 'linux', arch: 'i386', cpus: 1, memoryMiB: 512, diskGiB: 8 },
  other: { label: 'Other', family: 'other', arch: 'x86_64', cpus: 1, memoryMiB: 1024, diskGiB: 16 },
};

/** Per preset, the virtual machine: firmware, chipset, devices and the engine `auto` prefers. */
const MACHINES: Readonly<
  Record<PresetId, Pick<OsPreset, 'firmware' | 'chipset' | 'diskBus' | 'nic' | 'vga' | 'engine'>>
> = {
  windows11: { firmware: 'uefi', chipset: 'q35', diskBus: 'ahci', nic: 'e1000e', vga: 'std', engine: 'qemu' },
  windows10: { firmware: 'uefi', chipset: 'q35', diskBus: 'ahci', nic: 'e1000e', vga: 'std', engine: 'qemu' },
  windows7: { firmware: 'bios', chipset: 'pc', diskBus: 'ahci', nic: 'e1000', vga: 'std', engine: 'qemu' },
  windowsxp: { firmware: 'bios', chipset: 'pc', diskBus: 'ide', nic: 'rtl8139', vga: 'cirrus', engine: 'qemu' },
  windows98: { firmware: 'bios', chipset: 'pc', diskBus: 'ide', nic: 'ne2k_pci', vga: 'cirrus', engine: 'v86' },
  dos: { firmware: 'bios', chipset: 'pc', diskBus: 'ide', nic: 'ne2k_pci', vga: 'std', engine: 'v86' },
  linux64: { firmware: 'uefi', chipset: 'q35', diskBus: 'virtio', nic: 'virtio-net', vga: 'std', engine: 'qemu' },
  linux32: { firmware: 'bios', chipset: 'pc', diskBus: 'ide', nic: 'e1000', vga: 'std', engine: 'qemu' },
  other: { firmware: 'bios', chipset: 'pc', diskBus: 'ide', nic: 'e1000', vga: 'std', engine: 'qemu' },
};

/**
 * Per preset, storage: the buses the guest drives without extra drivers, and whether it gets a
 * floppy drive. Windows 10/11 have AHCI and NVMe drivers built in (virtio needs the virtio-win
 * disk at install); XP and older know IDE only; Linux drives them all.
 */
const STORAGE: Readonly<Record<PresetId, Pick<OsPreset, 'diskBuses' | 'floppy'>>> = {
  windows11: { diskBuses: ['ahci', 'nvme', 'virtio', 'virtio-scsi', 'ide'], floppy: false },
  windows10: { diskBuses: ['ahci', 'nvme', 'virtio', 'virtio-scsi', 'ide'], floppy: false },
  windows7: { diskBuses: ['ahci', 'ide', 'virtio', 'virtio-scsi'], floppy: false },
  windowsxp: { diskBuses: ['ide'], floppy: true },
  windows98: { diskBuses: ['ide'], floppy: true },
  dos: { diskBuses: ['ide'], floppy: true },
  linux64: { diskBuses: ['virtio', 'virtio-scsi', 'nvme', 'ahci', 'ide'], floppy: false },
  linux32: { diskBuses: ['ide', 'ahci', 'virtio', 'virtio-scsi', 'nvme'], floppy: false },
  other: { diskBuses: ['ide', 'ahci', 'virtio', 'virtio-scsi', 'nvme'], floppy: false },
};

/** What a preset asks beyond its guest and machine rows: Windows 11 alone wants Secure Boot, a TPM and a minimum. */
const REQUIREMENTS: Readonly<Partial<Record<PresetId, Pick<OsPreset, 'secureBoot' | 'tpm' | 'minimum'>>>> = {
  windows11: { secureBoot: true, tpm: true, minimum: { cpus: 2, memoryMiB: 4096, diskGiB: 64 } },
};

export const OS_PRESETS: Readonly<Record<PresetId, OsPreset>> = Object.fromEntries(
  PRESET_IDS.map((id): [PresetId, OsPreset] => [
    id,
    { id, ...GUESTS[id], ...MACHINES[id], ...STORAGE[id], secureBoot: false, tpm: false, ...REQUIREMENTS[id] },
  ]),
) as Record<PresetId, OsPreset>;

export function isPresetId(s: string): s is PresetId {
  return (PRESET_IDS as readonly string[]).includes(s);
}
