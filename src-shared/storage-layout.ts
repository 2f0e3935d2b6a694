// Where each drive of a VM sits on the virtual machine's controllers, and what each engine
// cannot attach: QEMU's slots (IDE: 4 devices on 2 channels; SATA: 6 ports; virtio-blk;
// virtio-scsi; NVMe), v86's (IDE only: two disks, one CD/DVD drive; two floppy drives), and the
// floppy image sizes both take. Pure: the QEMU machine builder, the library, `maru show` and the UI share it.
import type { CdromConfig, DiskConfig, FloppyConfig, VmConfig } from './vm-config';

/** A floppy format both engines know by its image size (the BIOS and the FDC derive the geometry from it). */
export interface FloppyFormat {
  /** The name users type: `maru floppy create --size 1.44M`. */
  readonly name: string;
  readonly bytes: number;
  readonly tracks: number;
  readonly heads: number;
  readonly sectorsPerTrack: number;
}

/** Floppy image sizes Maru accepts: the standard PC formats QEMU's and v86's floppy controllers recognise. */
export const FLOPPY_FORMATS: readonly FloppyFormat[] = [
  { name: '160K', bytes: 163_840, tracks: 40, heads: 1, sectorsPerTrack: 8 },
  { name: '180K', bytes: 184_320, tracks: 40, heads: 1, sectorsPerTrack: 9 },
  { name: '320K', bytes: 327_680, tracks: 40, heads: 2, sectorsPerTrack: 8 },
  { name: '360K', bytes: 368_640, tracks: 40, heads: 2, sectorsPerTrack: 9 },
  { name: '720K', bytes: 737_280, tracks: 80, heads: 2, sectorsPerTrack: 9 },
  { name: '1.2M', bytes: 1_228_800, tracks: 80, heads: 2, sectorsPerTrack: 15 },
  { name: '1.44M', bytes: 1_474_560, tracks: 80, heads: 2, sectorsPerTrack: 18 },
  { name: '2.88M', bytes: 2_949_120, tracks: 80, heads: 2, sectorsPerTrack: 36 },
];

/** The formats `maru floppy create` writes (3½-inch). */
export const CREATABLE_FLOPPY_SIZES = ['1.44M', '720K', '2.88M'] as const;
export type CreatableFloppySize = (typeof CREATABLE_FLOPPY_SIZES)[number];

export function floppyFormatOfSize(bytes: number): FloppyFormat | undefined {
  return FLOPPY_FORMATS.find((f) => f.bytes === bytes);
}

/** Why a file of `bytes` cannot be a floppy image (null when it can). */
export function floppySizeProblem(file: string, bytes: number): string | null {
  if (floppyFormatOfSize(bytes)) return null;
  return (
    `${file} is not a floppy image: it is ${bytes} bytes, and a floppy image is exactly 1474560 bytes (1.44 MB), ` +
    '737280 (720 KB) or 2949120 (2.88 MB) — or 1228800, 368640, 327680, 184320, 163840 for the older formats. ' +
    'Create an empty one with "maru floppy create FILE", or attach the file as a hard disk or CD/DVD image instead.'
  );
}

// ---- QEMU

/** A drive's place on QEMU's controllers. */
export type QemuSlot =
  /** PIIX IDE of a `pc` machine: channel 0 (primary) or 1 (secondary), master (0) or slave (1). */
  | { readonly kind: 'ide'; readonly channel: 0 | 1; readonly unit: 0 | 1 }
  /** An AHCI port: q35's built-in controller (bus `ide.N`) or the ich9-ahci Maru adds to a `pc` (bus `sata.N`). */
  | { readonly kind: 'sata'; readonly controller: 'q35' | 'ich9'; readonly port: number }
  | { readonly kind: 'virtio-blk' }
  /** A scsi-hd on the VM's one virtio-scsi controller. */
  | { readonly kind: 'virtio-scsi' }
  /** Its own NVMe controller (namespace 1). */
  | { readonly kind: 'nvme' };

export interface QemuStoragePlan {
  readonly disks: readonly { readonly disk: DiskConfig; readonly slot: QemuSlot }[];
  readonly cdroms: readonly {
    readonly cdrom: CdromConfig;
    readonly slot: Extract<QemuSlot, { kind: 'ide' | 'sata' }>;
  }[];
  /** Floppy drives by unit (0 = A:, 1 = B:). */
  readonly floppies: readonly { readonly floppy: FloppyConfig; readonly unit: 0 | 1 }[];
  /** The floppy controller: a `pc` has one built in; a q35 gets an isa-fdc; null without floppy drives. */
  readonly fdc: 'builtin' | 'isa-fdc' | null;
  /** Things to tell the user (IDE drives on q35's SATA controller …). */
  readonly notes: readonly string[];
  /** Why QEMU cannot build this machine (empty when it can). */
  readonly problems: readonly string[];
}

/** Ports of an AHCI controller (q35's built-in one and ich9-ahci alike). */
export const SATA_PORTS = 6;
/** Devices on a `pc`'s two IDE channels. */
export const IDE_DEVICES = 4;

/** PIIX IDE places in the order disks take them; the secondary master is the first CD/DVD drive's (as in Maru ≤ schema 2). */
const IDE_DISK_ORDER: readonly { channel: 0 | 1; unit: 0 | 1 }[] = [
  { channel: 0, unit: 0 },
  { channel: 0, unit: 1 },
  { channel: 1, unit: 1 },
  { channel: 1, unit: 0 },
];

const BUS_LABEL: Record<DiskConfig['bus'], string> = {
  ide: 'IDE',
  ahci: 'SATA',
  virtio: 'virtio',
  'virtio-scsi': 'virtio-scsi',
  nvme: 'NVMe',
};

/** How users name a disk bus (IDE, SATA, virtio, virtio-scsi, NVMe). */
export function diskBusLabel(bus: DiskConfig['bus']): string {
  return BUS_LABEL[bus];
}

function list(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * Places every drive of `config` on QEMU's controllers (list order within a kind), the way the
 * machine builder attaches them. A `pc` has PIIX IDE (4 devices: disks, then the first CD/DVD
 * drive as secondary master as Maru always had it) and gets an ich9-ahci for SATA drives; a q35
 * has a 6-port AHCI controller and no IDE, so its IDE drives go there (with a note).
 */
export function planQemuStorage(config: Pick<VmConfig, 'chipset' | 'disks' | 'cdroms' | 'floppies'>): QemuStoragePlan {
  const q35 = config.chipset === 'q35';
  const notes: string[] = [];
  const problems: string[] = [];
  const disks: { disk: DiskConfig; slot: QemuSlot }[] = [];
  const cdroms: { cdrom: CdromConfig; slot: Extract<QemuSlot, { kind: 'ide' | 'sata' }> }[] = [];

  // SATA: q35 takes its IDE drives here too. Disks first, then CD/DVD drives (as schema 2 had them).
  const onSata = (bus: 'ide' | 'ahci'): boolean => bus === 'ahci' || (q35 && bus === 'ide');
  const sataDisks = config.disks.filter((d) => (d.bus === 'ide' || d.bus === 'ahci') && onSata(d.bus));
  const sataCds = config.cdroms.filter((c) => onSata(c.bus));
  const sataNames = [...sataDisks.map((d) => `disk ${d.id}`), ...sataCds.map((c) => `CD/DVD drive ${c.id}`)];
  if (sataNames.length > SATA_PORTS) {
    problems.push(
      `${q35 ? "q35's SATA (AHCI) controller" : 'the SATA (AHCI) controller'} has ${SATA_PORTS} ports and the VM has ` +
        `${sataNames.length} drives on it (${list(sataNames)})` +
        (q35 && config.disks.some((d) => d.bus === 'ide')
          ? ', counting its IDE drives, which q35 attaches there'
          : '') +
        ': move a disk to virtio, virtio-scsi or NVMe, or detach a drive',
    );
  }
  let port = 0;
  const sataSlot = (): Extract<QemuSlot, { kind: 'sata' }> => ({
    kind: 'sata',
    controller: q35 ? 'q35' : 'ich9',
    port: port++,
  });

  // IDE (pc only): disks take primary master, primary slave, secondary slave, secondary master; the
  // first CD/DVD drive takes secondary master, further ones what is left.
  const ideDisks = q35 ? [] : config.disks.filter((d) => d.bus === 'ide');
  const ideCds = q35 ? [] : config.cdroms.filter((c) => c.bus === 'ide');
  const ideNames = [...ideDisks.map((d) => `disk ${d.id}`), ...ideCds.map((c) => `CD/DVD drive ${c.id}`)];
  if (ideNames.length > IDE_DEVICES) {
    problems.push(
      `a PC's two IDE channels hold ${IDE_DEVICES} devices (a master and a slave each) and the VM has ` +
        `${ideNames.length} IDE drives (${list(ideNames)}): move a disk to SATA, virtio or NVMe, or a CD/DVD drive ` +
        'to SATA, or detach a drive',
    );
  }
  const ideFree = IDE_DISK_ORDER.map((s) => ({ ...s }));
  const takeIde = (prefer?: { channel: 0 | 1; unit: 0 | 1 }): Extract<QemuSlot, { kind: 'ide' }> | null => {
    let i = prefer ? ideFree.findIndex((s) => s.channel === prefer.channel && s.unit === prefer.unit) : -1;
    if (i < 0) i = 0;
    const s = ideFree.splice(i, 1)[0];
    return s ? { kind: 'ide', ...s } : null;
  };
  // The first IDE CD/DVD drive's place is reserved before the disks take theirs.
  const firstCdSlot = ideCds.length > 0 ? takeIde({ channel: 1, unit: 0 }) : null;

  for (const disk of config.disks) {
    if (disk.bus === 'virtio') disks.push({ disk, slot: { kind: 'virtio-blk' } });
    else if (disk.bus === 'virtio-scsi') disks.push({ disk, slot: { kind: 'virtio-scsi' } });
    else if (disk.bus === 'nvme') disks.push({ disk, slot: { kind: 'nvme' } });
    else if (onSata(disk.bus)) disks.push({ disk, slot: sataSlot() });
    else {
      const slot = takeIde();
      if (slot) disks.push({ disk, slot });
    }
  }
  config.cdroms.forEach((cdrom) => {
    if (onSata(cdrom.bus)) cdroms.push({ cdrom, slot: sataSlot() });
    else {
      const slot = cdrom === ideCds[0] ? firstCdSlot : takeIde();
      if (slot) cdroms.push({ cdrom, slot });
    }
  });
  if (q35 && (config.disks.some((d) => d.bus === 'ide') || config.cdroms.some((c) => c.bus === 'ide'))) {
    notes.push('q35 has no IDE controller: the IDE drives are attached to its SATA (AHCI) controller.');
  }
  const floppies = config.floppies.map((floppy, i) => ({ floppy, unit: i as 0 | 1 }));
  return {
    disks,
    cdroms,
    floppies,
    fdc: floppies.length === 0 ? null : q35 ? 'isa-fdc' : 'builtin',
    notes,
    problems,
  };
}

// ---- v86

/** Hard disks v86 attaches: IDE primary master and slave. */
export const V86_MAX_DISKS = 2;

/** What v86 cannot attach of this VM's drives (empty when it can run them all). */
export function v86StorageProblems(config: Partial<Pick<VmConfig, 'disks' | 'cdroms'>>): string[] {
  const problems: string[] = [];
  const disks = config.disks ?? [];
  const cdroms = config.cdroms ?? [];
  for (const d of disks) {
    if (d.bus !== 'ide') {
      problems.push(`v86 has IDE disks only and disk ${d.id} is on ${BUS_LABEL[d.bus]}`);
    }
  }
  if (disks.length > V86_MAX_DISKS) {
    problems.push(
      `v86 attaches ${V86_MAX_DISKS} hard disks (IDE primary master and slave) and the VM has ${disks.length}`,
    );
  }
  if (cdroms.length > 1) problems.push(`v86 has one CD/DVD drive and the VM has ${cdroms.length}`);
  for (const c of cdroms) {
    if (c.bus !== 'ide') problems.push(`v86 has an IDE CD/DVD drive only and drive ${c.id} is on SATA`);
  }
  return problems;
}
