// The QEMU machine builder: a pure function from a VM config + the host probe + folder paths
// to the qemu command line, the files to prepare (NVRAM, TPM state), the swtpm command line
// and notes for the user. No I/O here: the engine runs what this returns.
import path from 'node:path';
import { AppError } from '../../../src-shared/errors';
import type { AcceleratorName, AcceleratorVerdict, HostInfo } from '../../../src-shared/host-info';
import { OS_PRESETS } from '../../../src-shared/os-presets';
import { planQemuStorage, type QemuSlot } from '../../../src-shared/storage-layout';
import { macAddressFor, nicMacAddress } from '../../../src-shared/network-adapters';
import type { DiskConfig, NicConfig, NicModel, VmConfig } from '../../../src-shared/vm-config';
import { SOCKET_FILES } from '../../../src-node/run-folder';

/** Where the machine's files live. */
export interface MachinePaths {
  /** `vms/<uuid>`: disks (relative paths resolve here), nvram.qcow2, tpm/. */
  readonly vmFolder: string;
  /** Sockets and pid files (`run/<uuid>` or its short fallback). */
  readonly socketFolder: string;
  /** `vms/<uuid>/logs`: serial.log, swtpm.log. */
  readonly logsFolder: string;
}

export interface MachineInput {
  readonly config: VmConfig;
  readonly host: HostInfo;
  readonly paths: MachinePaths;
  /** Start with the CPUs stopped (`-S`): the engine loads a saved state, then continues. */
  readonly startPaused?: boolean;
  /**
   * Internal-network adapters: adapter index → the unix socket QEMU connects to (its `-netdev
   * stream` peer), which the engine host listens on before QEMU starts. Every internal adapter needs one.
   */
  readonly internalNetworkSockets?: Readonly<Record<number, string>>;
}

/** A file or folder the engine creates before starting QEMU (never overwriting). */
export type PrepareStep =
  | {
      readonly kind: 'nvram';
      /** Per-VM NVRAM (qcow2), created once from `template` with `qemu-img convert -O qcow2`. */
      readonly path: string;
      readonly template: string;
      readonly secureBoot: boolean;
    }
  | { readonly kind: 'folder'; readonly path: string; readonly mode: number };

export interface SwtpmPlan {
  readonly binary: string;
  readonly argv: readonly string[];
  /** Control socket QEMU connects to; exists once swtpm is ready. */
  readonly ctrlSocket: string;
  readonly stateFolder: string;
  readonly logFile: string;
}

/** Nodes and images a save-state snapshot covers (every writable qcow2 node). */
export interface SnapshotPlan {
  /** Node that stores RAM + device state; null when the VM has no writable qcow2 node. */
  readonly vmstateNode: string | null;
  readonly devices: readonly string[];
  readonly images: readonly string[];
}

export interface MachinePlan {
  readonly binary: string;
  readonly argv: readonly string[];
  readonly prepare: readonly PrepareStep[];
  readonly swtpm: SwtpmPlan | null;
  /** Things to tell the user (software emulation, adjusted devices …). */
  readonly notes: readonly string[];
  readonly machine: 'q35' | 'pc';
  readonly accelerator: AcceleratorName;
  readonly acceleratorReason: string;
  readonly cpuModel: string;
  readonly sockets: { readonly qmp: string; readonly vnc: string; readonly serial: string };
  readonly pidFile: string;
  readonly serialLog: string;
  readonly snapshot: SnapshotPlan;
  /** The CD/DVD and floppy drives (QMP media commands take their qdev ids) and their media at start. */
  readonly removable: readonly RemovableDrive[];
  /** The network adapters, in the config's order. */
  readonly nics: readonly PlannedNic[];
  /**
   * QEMU starts with its CPUs stopped (`-S`) only so that unplugged cables are unplugged before
   * the guest runs: the engine sets those links down, then continues (unless it loads a saved state first).
   */
  readonly heldForLinks: boolean;
}

/** A network adapter of the machine. */
export interface PlannedNic {
  readonly index: number;
  /** The NIC's qdev id, also its net client name (QMP `set_link` takes it). */
  readonly deviceId: string;
  /** Its `-netdev` id (HMP `hostfwd_add` takes a NAT adapter's), null when not attached. */
  readonly netdevId: string | null;
  readonly attachment: NicConfig['attachment'];
  readonly mac: string;
  readonly cableConnected: boolean;
}

/** A CD/DVD or floppy drive of the machine. */
export interface RemovableDrive {
  /** The drive's id in the config (`cd0`, `fd0` …). */
  readonly id: string;
  readonly kind: 'cdrom' | 'floppy';
  /** Its qdev id: QMP's blockdev-change-medium and eject take it. */
  readonly deviceId: string;
  /** The image in it at start (absolute path), null when empty. */
  readonly medium: string | null;
}

/** qdev id of the isa-fdc a q35 machine gets for its floppy drives. */
export const FDC_ID = 'fdc0';
/** Node name of the per-VM NVRAM (qcow2). */
export const NVRAM_NODE = 'nvram';
/** The per-VM NVRAM file in the VM folder. */
export const NVRAM_FILE = 'nvram.qcow2';
/** The swtpm state folder in the VM folder. */
export const TPM_FOLDER = 'tpm';

const ACCEL_LABEL: Record<AcceleratorName, string> = { kvm: 'KVM', hvf: 'HVF', whpx: 'WHPX', tcg: 'TCG' };

/** Escapes a value for QEMU's `key=value,…` option syntax (a comma is doubled). */
export function optValue(v: string): string {
  return v.replace(/,/g, ',,');
}

function opts(parts: readonly (string | false | null | undefined)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join(',');
}

/** QEMU node names start with a letter and hold letters, digits, '-', '.', '_' (at most 31 chars). */
export function diskNodeName(drive: { readonly id: string }): string {
  const id = /^[a-z]/.test(drive.id) ? drive.id : `disk-${drive.id}`;
  return id.slice(0, 31);
}

/** An NVMe controller's serial number (at most 20 characters): stable per disk. */
export function nvmeSerial(disk: DiskConfig): string {
  return `MARU-${disk.id}`.slice(0, 20);
}

/** A stable MAC from the VM's uuid and the adapter's index (src-shared/network-adapters.ts). */
export { macAddressFor };

interface AccelChoice {
  readonly name: AcceleratorName;
  readonly reason: string;
  readonly cpuModel: string;
  readonly notes: string[];
}

function verdictOf(host: HostInfo, name: AcceleratorName): AcceleratorVerdict | undefined {
  return host.accelerators.find((v) => v.name === name);
}

function chooseAccelerator(config: VmConfig, host: HostInfo): AccelChoice {
  const notes: string[] = [];
  const best: AcceleratorName = host.accelerator ?? 'tcg';
  let name: AcceleratorName = best;
  if (config.secureBoot) {
    name = host.secureBootAccelerator ?? 'tcg';
    if (name !== best) {
      notes.push(
        `Secure Boot needs SMM, which this host's ${ACCEL_LABEL[best]} lacks: running this VM with software ` +
          `emulation (${ACCEL_LABEL[name]}, slower).`,
      );
    }
  }
  const verdict = verdictOf(host, name);
  if (name === 'tcg' && best === 'tcg') {
    const refused = host.accelerators.find((v) => v.name !== 'tcg' && v.present && !v.usable);
    if (refused) {
      notes.push(`Running with software emulation (TCG, slower): ${refused.reason}`);
    }
  }
  const cpuModel = verdict?.cpuModel ?? (name === 'tcg' ? 'max' : 'host');
  const reason = verdict?.reason ?? (name === 'tcg' ? 'software emulation' : `${ACCEL_LABEL[name]} selected`);
  return { name, reason, cpuModel, notes };
}

/** Hyper-V enlightenments for Windows guests under a hardware hypervisor (ENGINE-FACTS). */
const HYPERV_FLAGS = 'hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_vpindex,hv_synic,hv_stimer,hv_time';

const NIC_DEVICES: Record<NicModel, string> = {
  e1000e: 'e1000e',
  e1000: 'e1000',
  rtl8139: 'rtl8139',
  ne2k_pci: 'ne2k_pci',
  'virtio-net': 'virtio-net-pci',
  pcnet: 'pcnet',
};

const VGA_DEVICES: Record<VmConfig['display']['vga'], string> = {
  std: 'VGA',
  cirrus: 'cirrus-vga',
  virtio: 'virtio-vga',
  vmware: 'vmware-svga',
};

function binaryFor(config: VmConfig, host: HostInfo, notes: string[]): string {
  const x86 = host.qemu.binaries.find((b) => b.name === 'qemu-system-x86_64');
  const i386 = host.qemu.binaries.find((b) => b.name === 'qemu-system-i386');
  const wants32 = OS_PRESETS[config.os].arch === 'i386' && config.firmware === 'bios';
  if (wants32 && i386) return i386.path;
  if (!x86) {
    throw new AppError(
      'MISSING_DEPENDENCY',
      'qemu-system-x86_64 was not found. Install QEMU (Debian/Ubuntu: sudo apt install qemu-system-x86; ' +
        'Fedora: sudo dnf install qemu-system-x86-core; macOS: brew install qemu).',
    );
  }
  if (wants32) notes.push('qemu-system-i386 was not found: running this 32-bit guest with qemu-system-x86_64.');
  return x86.path;
}

/** Builds the QEMU command line and everything around it. Pure: same input, same output. */
export function buildMachine(input: MachineInput): MachinePlan {
  const { config, host, paths } = input;
  const notes: string[] = [];
  const binary = binaryFor(config, host, notes);
  const accel = chooseAccelerator(config, host);
  notes.push(...accel.notes);
  const preset = OS_PRESETS[config.os];
  const q35 = config.chipset === 'q35';
  const uefi = config.firmware === 'uefi';
  const sock = (name: string): string => path.join(paths.socketFolder, name);
  const sockets = { qmp: sock(SOCKET_FILES.qmp), vnc: sock(SOCKET_FILES.vnc), serial: sock(SOCKET_FILES.serial) };
  const pidFile = sock(SOCKET_FILES.qemuPid);
  const serialLog = path.join(paths.logsFolder, 'serial.log');
  const prepare: PrepareStep[] = [];
  const argv: string[] = [];
  const add = (...a: string[]): void => {
    argv.push(...a);
  };

  add('-nodefaults', '-no-user-config', '-display', 'none', '-msg', 'timestamp=on');
  add('-name', opts([`guest=${optValue(config.name)}`, `process=maru-${config.id.slice(0, 8)}`]));
  add('-uuid', config.id);
  add('-pidfile', pidFile);

  // ---- machine, accelerator, CPU, memory
  const machineOpts: string[] = [q35 ? 'q35' : 'pc'];
  if (config.secureBoot) machineOpts.push('smm=on');
  let firmware: { code: string; vars: string } | null = null;
  if (uefi) {
    firmware = config.secureBoot ? host.firmware.ovmfSecureBoot : host.firmware.ovmf;
    if (!firmware) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        config.secureBoot
          ? 'Secure Boot firmware (OVMF with Microsoft keys, OVMF_CODE_4M.ms.fd) was not found. Install it ' +
              '(Debian/Ubuntu: sudo apt install ovmf; Fedora: sudo dnf install edk2-ovmf), or turn Secure Boot off.'
          : 'UEFI firmware (OVMF) was not found. Install it (Debian/Ubuntu: sudo apt install ovmf; ' +
              'Fedora: sudo dnf install edk2-ovmf; macOS: brew install qemu), or use BIOS firmware.',
      );
    }
    machineOpts.push(`pflash0=ovmf-code`, `pflash1=${NVRAM_NODE}`);
  }
  add('-machine', machineOpts.join(','));
  add('-accel', accel.name);
  const windowsModern = preset.family === 'windows' && ['windows7', 'windows10', 'windows11'].includes(preset.id);
  const cpu = accel.name !== 'tcg' && windowsModern ? `${accel.cpuModel},${HYPERV_FLAGS}` : accel.cpuModel;
  add('-cpu', cpu);
  add('-smp', `cpus=${config.cpus},sockets=1,cores=${config.cpus},threads=1`);
  add('-m', `${config.memoryMiB}M`);
  add('-rtc', preset.family === 'windows' || preset.family === 'dos' ? 'base=localtime' : 'base=utc');
  // An unplugged cable must be unplugged before the guest's driver first looks at the link.
  const heldForLinks = !input.startPaused && config.nics.some((n) => !n.cableConnected);
  if (input.startPaused || heldForLinks) add('-S');

  // ---- firmware
  const snapshotNodes: { node: string; image: string }[] = [];
  if (uefi && firmware) {
    const nvram = path.join(paths.vmFolder, NVRAM_FILE);
    prepare.push({ kind: 'nvram', path: nvram, template: firmware.vars, secureBoot: config.secureBoot });
    add(
      '-blockdev',
      opts(['driver=file', 'node-name=ovmf-code', `filename=${optValue(firmware.code)}`, 'read-only=on']),
    );
    add('-blockdev', opts(['driver=file', `node-name=${NVRAM_NODE}-file`, `filename=${optValue(nvram)}`]));
    add('-blockdev', opts(['driver=qcow2', `node-name=${NVRAM_NODE}`, `file=${NVRAM_NODE}-file`]));
    if (config.secureBoot) add('-global', 'driver=cfi.pflash01,property=secure,value=on');
  }

  // ---- storage: every drive's controller and slot (src-shared/storage-layout.ts)
  const storage = planQemuStorage(config);
  if (storage.problems.length > 0) {
    throw new AppError(
      'UNSUPPORTED',
      `VM ${JSON.stringify(config.name)} cannot be built: ${storage.problems.join('; ')} ("maru storage ${config.name} list" shows its drives).`,
    );
  }
  notes.push(...storage.notes);

  // ---- boot order → bootindex per device (drives of one kind in list order)
  const bootIndex = new Map<string, number>();
  let nextBoot = 0;
  for (const what of config.bootOrder) {
    if (what === 'disk') for (const d of config.disks) bootIndex.set(`disk:${d.id}`, nextBoot++);
    else if (what === 'cdrom') for (const c of config.cdroms) bootIndex.set(`cdrom:${c.id}`, nextBoot++);
    else if (what === 'floppy') for (const f of config.floppies) bootIndex.set(`floppy:${f.id}`, nextBoot++);
    else if (what === 'network') bootIndex.set('network', nextBoot++);
  }
  const boot = (key: string): string | undefined => {
    const i = bootIndex.get(key);
    return i === undefined ? undefined : `bootindex=${i}`;
  };
  const busOf = (slot: QemuSlot): string => {
    if (slot.kind === 'ide') return `bus=ide.${slot.channel},unit=${slot.unit}`;
    if (slot.kind === 'sata') return `bus=${slot.controller === 'q35' ? 'ide' : 'sata'}.${slot.port}`;
    return '';
  };

  // ---- disks. A controller is added right before its first drive (-device order decides PCI
  // slots, so a VM keeps the addresses it had before schema 3).
  const added = new Set<string>();
  const controllerFor = (slot: QemuSlot): void => {
    const needed =
      slot.kind === 'sata' && slot.controller === 'ich9'
        ? 'ich9-ahci,id=sata'
        : slot.kind === 'virtio-scsi'
          ? 'virtio-scsi-pci,id=scsi0'
          : null;
    if (needed && !added.has(needed)) {
      added.add(needed);
      add('-device', needed);
    }
  };
  for (const { disk: d, slot } of storage.disks) {
    const node = diskNodeName(d);
    const file = path.isAbsolute(d.file) ? d.file : path.join(paths.vmFolder, d.file);
    add('-blockdev', opts(['driver=file', `node-name=${node}-file`, `filename=${optValue(file)}`]));
    add('-blockdev', opts(['driver=qcow2', `node-name=${node}`, `file=${node}-file`, 'discard=unmap']));
    snapshotNodes.push({ node, image: file });
    controllerFor(slot);
    const dev = `id=${node}-dev`;
    const bootAt = boot(`disk:${d.id}`);
    if (slot.kind === 'virtio-blk') add('-device', opts(['virtio-blk-pci', `drive=${node}`, dev, bootAt]));
    else if (slot.kind === 'virtio-scsi')
      add('-device', opts(['scsi-hd', `drive=${node}`, 'bus=scsi0.0', dev, bootAt]));
    else if (slot.kind === 'nvme') {
      // An NVMe controller needs a serial number; the guest sees it as the drive's serial.
      add('-device', opts(['nvme', `drive=${node}`, `serial=${nvmeSerial(d)}`, dev, bootAt]));
    } else add('-device', opts(['ide-hd', `drive=${node}`, busOf(slot), dev, bootAt]));
  }
  if (uefi) snapshotNodes.push({ node: NVRAM_NODE, image: path.join(paths.vmFolder, NVRAM_FILE) });

  // ---- removable media: an image is a raw node the QMP media commands can replace; the drive stays
  const removable: RemovableDrive[] = [];
  const mediumNodes = (node: string, file: string, readOnly: boolean): string => {
    const ro = readOnly ? 'read-only=on' : undefined;
    add('-blockdev', opts(['driver=file', `node-name=${node}-file`, `filename=${optValue(file)}`, ro]));
    add('-blockdev', opts(['driver=raw', `node-name=${node}-media`, `file=${node}-file`, ro]));
    return `drive=${node}-media`;
  };
  for (const { cdrom, slot } of storage.cdroms) {
    const node = diskNodeName(cdrom);
    const drive = cdrom.iso ? mediumNodes(node, cdrom.iso, true) : undefined;
    controllerFor(slot);
    add('-device', opts(['ide-cd', `id=${node}`, busOf(slot), drive, boot(`cdrom:${cdrom.id}`)]));
    removable.push({ id: cdrom.id, kind: 'cdrom', deviceId: node, medium: cdrom.iso });
  }

  // ---- floppy drives: a pc's built-in ISA controller; q35 has none (since QEMU 2.4), so it gets an isa-fdc
  if (storage.fdc === 'isa-fdc') {
    const idx = storage.floppies.map(({ floppy, unit }) => {
      const i = bootIndex.get(`floppy:${floppy.id}`);
      return i === undefined ? undefined : `bootindex${unit === 0 ? 'A' : 'B'}=${i}`;
    });
    add('-device', opts(['isa-fdc', `id=${FDC_ID}`, ...idx]));
  } else if (storage.fdc === 'builtin') {
    for (const { floppy, unit } of storage.floppies) {
      const i = bootIndex.get(`floppy:${floppy.id}`);
      if (i !== undefined) add('-global', `isa-fdc.bootindex${unit === 0 ? 'A' : 'B'}=${i}`);
    }
  }
  for (const { floppy, unit } of storage.floppies) {
    const node = diskNodeName(floppy);
    const drive = floppy.image ? mediumNodes(node, floppy.image, false) : undefined;
    const bus = storage.fdc === 'isa-fdc' ? `bus=${FDC_ID}.0` : undefined;
    add('-device', opts(['floppy', `unit=${unit}`, `id=${node}`, bus, drive]));
    removable.push({ id: floppy.id, kind: 'floppy', deviceId: node, medium: floppy.image });
  }

  // ---- TPM 2.0 (swtpm)
  let swtpm: SwtpmPlan | null = null;
  if (config.tpm) {
    if (!host.swtpm) {
      throw new AppError(
        'MISSING_DEPENDENCY',
        'The TPM 2.0 emulator swtpm was not found. Install it (Debian/Ubuntu: sudo apt install swtpm swtpm-tools; ' +
          'Fedora: sudo dnf install swtpm swtpm-tools; macOS: brew install swtpm), or turn the TPM off.',
      );
    }
    const stateFolder = path.join(paths.vmFolder, TPM_FOLDER);
    const ctrlSocket = sock(SOCKET_FILES.swtpm);
    const logFile = path.join(paths.logsFolder, 'swtpm.log');
    for (const p of [stateFolder, ctrlSocket, logFile]) {
      // swtpm's own option parser has no escape for a comma inside a value.
      if (p.includes(',')) {
        throw new AppError(
          'UNSUPPORTED',
          `The TPM emulator cannot use the path ${p}: swtpm does not accept a comma in a path. ` +
            'Move the Maru data folder (MARU_HOME) to a path without commas, or turn the TPM off.',
        );
      }
    }
    prepare.push({ kind: 'folder', path: stateFolder, mode: 0o700 });
    swtpm = {
      binary: host.swtpm.path,
      argv: [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${stateFolder},mode=0600`,
        '--ctrl',
        `type=unixio,path=${ctrlSocket},mode=0600`,
        '--log',
        `file=${logFile},level=1`,
        // End when QEMU closes the control channel, so a dead QEMU never leaves swtpm behind.
        '--terminate',
      ],
      ctrlSocket,
      stateFolder,
      logFile,
    };
    add('-chardev', opts(['socket', 'id=chrtpm', `path=${optValue(ctrlSocket)}`]));
    add('-tpmdev', 'emulator,id=tpm0,chardev=chrtpm');
    add('-device', uefi ? 'tpm-crb,tpmdev=tpm0' : 'tpm-tis,tpmdev=tpm0');
  }

  // ---- network adapters: NAT (user-mode, its own subnet each), an internal network (a stream
  // socket the engine host serves), or none (a NIC without a peer: the guest sees no link)
  const nics: PlannedNic[] = [];
  config.nics.forEach((nic, i) => {
    const netdevId = nic.attachment === 'none' ? null : `net${i}`;
    if (nic.attachment === 'nat') {
      const fwd = nic.portForwards.map(
        (f) => `hostfwd=${f.protocol}:${optValue(f.hostAddress)}:${f.hostPort}-:${f.guestPort}`,
      );
      add('-netdev', opts(['user', `id=${netdevId}`, i > 0 ? `net=10.0.${2 + i}.0/24` : null, ...fwd]));
    } else if (nic.attachment === 'internal') {
      const socket = input.internalNetworkSockets?.[i];
      if (!socket) {
        throw new AppError(
          'INTERNAL',
          `Adapter ${i + 1} of VM ${JSON.stringify(config.name)} is on internal network ${JSON.stringify(nic.network)}, ` +
            'but the engine host has no socket for it.',
        );
      }
      add(
        '-netdev',
        opts(['stream', `id=${netdevId}`, 'server=off', 'addr.type=unix', `addr.path=${optValue(socket)}`]),
      );
    }
    // Network boot is the first adapter's (as on a PC with one boot ROM enabled).
    const netBoot = i === 0 ? boot('network') : undefined;
    const mac = nicMacAddress(config, i);
    add(
      '-device',
      opts([
        NIC_DEVICES[nic.model],
        netdevId ? `netdev=${netdevId}` : null,
        `id=nic${i}`,
        `mac=${mac}`,
        // No network boot asked for: skip the PXE option ROM (faster firmware start).
        netBoot ?? 'romfile=',
      ]),
    );
    nics.push({
      index: i,
      deviceId: `nic${i}`,
      netdevId,
      attachment: nic.attachment,
      mac,
      cableConnected: nic.cableConnected,
    });
  });

  // ---- display, pointer
  add('-device', opts([VGA_DEVICES[config.display.vga], 'id=video0']));
  if (q35) {
    add('-device', 'qemu-xhci,id=usb', '-device', 'usb-tablet,id=tablet0,bus=usb.0');
  } else {
    add('-device', 'piix3-usb-uhci,id=usb', '-device', 'usb-tablet,id=tablet0,bus=usb.0');
  }
  add('-vnc', `unix:${optValue(sockets.vnc)}`);

  // ---- serial (socket + log) and QMP
  add(
    '-chardev',
    opts([
      'socket',
      'id=ser0',
      `path=${optValue(sockets.serial)}`,
      'server=on',
      'wait=off',
      `logfile=${optValue(serialLog)}`,
      'logappend=off',
    ]),
  );
  add('-serial', 'chardev:ser0');
  add('-chardev', opts(['socket', 'id=qmp', `path=${optValue(sockets.qmp)}`, 'server=on', 'wait=off']));
  add('-mon', 'chardev=qmp,mode=control');

  const first = snapshotNodes[0];
  return {
    binary,
    argv,
    prepare,
    swtpm,
    notes,
    machine: q35 ? 'q35' : 'pc',
    accelerator: accel.name,
    acceleratorReason: accel.reason,
    cpuModel: cpu,
    sockets,
    pidFile,
    serialLog,
    snapshot: {
      vmstateNode: first ? first.node : null,
      devices: snapshotNodes.map((n) => n.node),
      images: snapshotNodes.map((n) => n.image),
    },
    removable,
    nics,
    heldForLinks,
  };
}
