// The machine builder's command lines per preset and host: q35 vs pc, UEFI / Secure Boot
// pflash, swtpm, buses, NICs, accelerators (TCG here, KVM with the probe's CPU model),
// boot order, port forwards, escaping, and the refusals when firmware or swtpm is missing.
import { describe, expect, it } from 'vitest';
import type { AcceleratorVerdict, HostInfo } from '../../../../src-shared/host-info';
import { OS_PRESETS, type PresetId } from '../../../../src-shared/os-presets';
import type { NicConfig, VmConfig } from '../../../../src-shared/vm-config';
import { buildMachine, macAddressFor, type MachinePlan } from '../../../../src-emulator/engines/qemu/machine-builder';
import { hostInfo } from '../../services/host-probe/host-info-fixture';

const ID = '0f1e2d3c-4b5a-4697-8899-aabbccddeeff';
const paths = { vmFolder: '/maru/vms/' + ID, socketFolder: '/maru/run/' + ID, logsFolder: '/maru/vms/' + ID + '/logs' };

/** A config as `maru create --os PRESET` makes it, with changes. */
function configFor(os: PresetId, change: Partial<VmConfig> = {}): VmConfig {
  const p = OS_PRESETS[os];
  return {
    schemaVersion: 4,
    id: ID,
    name: `test ${os}`,
    os,
    engine: 'auto',
    cpus: p.cpus,
    memoryMiB: p.memoryMiB,
    chipset: p.chipset,
    firmware: p.firmware,
    secureBoot: p.secureBoot,
    tpm: p.tpm,
    disks: [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: p.diskBus, sizeBytes: p.diskGiB * 2 ** 30 }],
    cdroms: [{ id: 'cd0', iso: '/isos/installer.iso', bus: p.chipset === 'q35' ? 'ahci' : 'ide' }],
    floppies: [],
    bootOrder: ['cdrom', 'disk'],
    nics: [{ attachment: 'nat', model: p.nic, cableConnected: true, portForwards: [] }],
    display: { vga: p.vga },
    description: '',
    createdAt: '2025-01-01T00:00:00.000Z',
    modifiedAt: '2025-01-01T00:00:00.000Z',
    ...change,
  };
}

/** A NAT adapter with changes. */
function nic(change: Partial<NicConfig> = {}): NicConfig {
  return { attachment: 'nat', model: 'e1000e', cableConnected: true, portForwards: [], ...change };
}

/** The value after each occurrence of `flag`. */
function values(plan: MachinePlan, flag: string): string[] {
  const out: string[] = [];
  plan.argv.forEach((a, i) => {
    if (a === flag) out.push(plan.argv[i + 1]!);
  });
  return out;
}

function one(plan: MachinePlan, flag: string): string {
  const v = values(plan, flag);
  expect(v, flag).toHaveLength(1);
  return v[0]!;
}

const kvmVerdict: AcceleratorVerdict = {
  name: 'kvm',
  present: true,
  usable: true,
  smm: true,
  cpuModel: 'host,arch-capabilities=off',
  reason: 'the test guest ran x87 code under KVM',
  probeMs: 300,
};

/** A host whose KVM works (with SMM unless told otherwise). */
function kvmHost(smm = true): HostInfo {
  return hostInfo({
    accelerators: [{ ...kvmVerdict, smm }, ...hostInfo().accelerators.filter((a) => a.name === 'tcg')],
    accelerator: 'kvm',
    secureBootAccelerator: smm ? 'kvm' : 'tcg',
  });
}

describe('buildMachine: windows11 (q35, Secure Boot, TPM 2.0) on this host (TCG)', () => {
  const plan = buildMachine({ config: configFor('windows11'), host: hostInfo(), paths });

  it('uses q35 with SMM and the Microsoft-keys OVMF pair on secure pflash', () => {
    expect(plan.binary).toBe('/usr/bin/qemu-system-x86_64');
    expect(plan.machine).toBe('q35');
    expect(one(plan, '-machine')).toBe('q35,smm=on,pflash0=ovmf-code,pflash1=nvram');
    expect(values(plan, '-global')).toContain('driver=cfi.pflash01,property=secure,value=on');
    const blockdevs = values(plan, '-blockdev');
    expect(blockdevs).toContain(
      'driver=file,node-name=ovmf-code,filename=/usr/share/OVMF/OVMF_CODE_4M.ms.fd,read-only=on',
    );
    expect(blockdevs).toContain(`driver=file,node-name=nvram-file,filename=${paths.vmFolder}/nvram.qcow2`);
    expect(blockdevs).toContain('driver=qcow2,node-name=nvram,file=nvram-file');
    expect(plan.prepare).toContainEqual({
      kind: 'nvram',
      path: `${paths.vmFolder}/nvram.qcow2`,
      template: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
      secureBoot: true,
    });
  });

  it('runs under TCG with -cpu max and says why', () => {
    expect(one(plan, '-accel')).toBe('tcg');
    expect(one(plan, '-cpu')).toBe('max');
    expect(plan.accelerator).toBe('tcg');
    expect(plan.notes.join(' ')).toMatch(/software emulation \(TCG, slower\): KVM present but cannot run guests/);
  });

  it('has a TPM 2.0 on tpm-crb backed by a per-VM swtpm', () => {
    expect(values(plan, '-device')).toContain('tpm-crb,tpmdev=tpm0');
    expect(one(plan, '-tpmdev')).toBe('emulator,id=tpm0,chardev=chrtpm');
    expect(values(plan, '-chardev')).toContain(`socket,id=chrtpm,path=${paths.socketFolder}/swtpm.sock`);
    expect(plan.swtpm).toEqual({
      binary: '/usr/bin/swtpm',
      argv: [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${paths.vmFolder}/tpm,mode=0600`,
        '--ctrl',
        `type=unixio,path=${paths.socketFolder}/swtpm.sock,mode=0600`,
        '--log',
        `file=${paths.logsFolder}/swtpm.log,level=1`,
        '--terminate',
      ],
      ctrlSocket: `${paths.socketFolder}/swtpm.sock`,
      stateFolder: `${paths.vmFolder}/tpm`,
      logFile: `${paths.logsFolder}/swtpm.log`,
    });
    expect(plan.prepare).toContainEqual({ kind: 'folder', path: `${paths.vmFolder}/tpm`, mode: 0o700 });
  });

  it('puts the disk on the built-in AHCI controller, the CD/DVD after it, and boots the CD first', () => {
    const devices = values(plan, '-device');
    expect(values(plan, '-blockdev')).toContain(
      `driver=file,node-name=disk0-file,filename=${paths.vmFolder}/disks/disk0.qcow2`,
    );
    expect(values(plan, '-blockdev')).toContain('driver=qcow2,node-name=disk0,file=disk0-file,discard=unmap');
    expect(devices).toContain('ide-hd,drive=disk0,bus=ide.0,id=disk0-dev,bootindex=1');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,drive=cd0-media,bootindex=0');
    expect(values(plan, '-blockdev')).toContain('driver=raw,node-name=cd0-media,file=cd0-file,read-only=on');
  });

  it('has an e1000e on user-mode NAT, std VGA, an xHCI usb-tablet, and the sockets', () => {
    const devices = values(plan, '-device');
    expect(one(plan, '-netdev')).toBe('user,id=net0');
    expect(devices).toContain(`e1000e,netdev=net0,id=nic0,mac=${macAddressFor(ID)},romfile=`);
    expect(devices).toContain('VGA,id=video0');
    expect(devices).toEqual(expect.arrayContaining(['qemu-xhci,id=usb', 'usb-tablet,id=tablet0,bus=usb.0']));
    expect(one(plan, '-vnc')).toBe(`unix:${paths.socketFolder}/vnc.sock`);
    expect(values(plan, '-chardev')).toContain(
      `socket,id=ser0,path=${paths.socketFolder}/serial.sock,server=on,wait=off,logfile=${paths.logsFolder}/serial.log,logappend=off`,
    );
    expect(one(plan, '-serial')).toBe('chardev:ser0');
    expect(values(plan, '-chardev')).toContain(`socket,id=qmp,path=${paths.socketFolder}/qmp.sock,server=on,wait=off`);
    expect(one(plan, '-mon')).toBe('chardev=qmp,mode=control');
    expect(plan.argv.slice(0, 6)).toEqual([
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-msg',
      'timestamp=on',
    ]);
    expect(one(plan, '-uuid')).toBe(ID);
    expect(one(plan, '-pidfile')).toBe(`${paths.socketFolder}/qemu.pid`);
    expect(one(plan, '-rtc')).toBe('base=localtime');
    expect(one(plan, '-smp')).toBe('cpus=2,sockets=1,cores=2,threads=1');
    expect(one(plan, '-m')).toBe('4096M');
  });

  it('snapshots the disk and the NVRAM, with the vmstate in the disk', () => {
    expect(plan.snapshot).toEqual({
      vmstateNode: 'disk0',
      devices: ['disk0', 'nvram'],
      images: [`${paths.vmFolder}/disks/disk0.qcow2`, `${paths.vmFolder}/nvram.qcow2`],
    });
    expect(plan.argv).not.toContain('-S');
    expect(buildMachine({ config: configFor('windows11'), host: hostInfo(), paths, startPaused: true }).argv).toContain(
      '-S',
    );
  });
});

describe('buildMachine: legacy presets', () => {
  it('dos: pc, IDE, BIOS, qemu-system-i386, a UHCI tablet, ne2k_pci', () => {
    const plan = buildMachine({ config: configFor('dos'), host: hostInfo(), paths });
    expect(plan.binary).toBe('/usr/bin/qemu-system-i386');
    expect(one(plan, '-machine')).toBe('pc');
    expect(plan.argv.join(' ')).not.toMatch(/pflash|smm|tpm|OVMF/);
    const devices = values(plan, '-device');
    expect(devices).toContain('ide-hd,drive=disk0,bus=ide.0,unit=0,id=disk0-dev,bootindex=1');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0-media,bootindex=0');
    expect(devices).toContain(`ne2k_pci,netdev=net0,id=nic0,mac=${macAddressFor(ID)},romfile=`);
    expect(devices).toEqual(expect.arrayContaining(['piix3-usb-uhci,id=usb', 'usb-tablet,id=tablet0,bus=usb.0']));
    expect(plan.prepare).toEqual([]);
    expect(plan.swtpm).toBeNull();
    expect(plan.snapshot).toEqual({
      vmstateNode: 'disk0',
      devices: ['disk0'],
      images: [`${paths.vmFolder}/disks/disk0.qcow2`],
    });
  });

  it('windows7: pc with an ich9-ahci controller for its AHCI disk, e1000', () => {
    const plan = buildMachine({ config: configFor('windows7'), host: hostInfo(), paths });
    expect(plan.binary).toBe('/usr/bin/qemu-system-x86_64');
    const devices = values(plan, '-device');
    expect(devices).toContain('ich9-ahci,id=sata');
    expect(devices).toContain('ide-hd,drive=disk0,bus=sata.0,id=disk0-dev,bootindex=1');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0-media,bootindex=0');
    expect(devices.some((d) => d.startsWith('e1000,'))).toBe(true);
  });

  it('windowsxp without qemu-system-i386 falls back to x86_64 and says so', () => {
    const host = hostInfo({
      qemu: { ...hostInfo().qemu, binaries: hostInfo().qemu.binaries.filter((b) => b.name === 'qemu-system-x86_64') },
    });
    const plan = buildMachine({ config: configFor('windowsxp'), host, paths });
    expect(plan.binary).toBe('/usr/bin/qemu-system-x86_64');
    expect(plan.notes.join(' ')).toMatch(/qemu-system-i386 was not found/);
    expect(values(plan, '-device')).toContain('cirrus-vga,id=video0');
  });

  it('an IDE disk on q35 goes to the SATA controller, with a note', () => {
    const config = configFor('linux64', {
      disks: [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: 'ide', sizeBytes: 1 }],
    });
    const plan = buildMachine({ config, host: hostInfo(), paths });
    expect(values(plan, '-device')).toContain('ide-hd,drive=disk0,bus=ide.0,id=disk0-dev,bootindex=1');
    expect(plan.notes.join(' ')).toMatch(/q35 has no IDE controller/);
  });
});

describe('buildMachine: hosts and accelerators', () => {
  it('uses KVM with the CPU model the probe proved, and Hyper-V enlightenments for Windows', () => {
    const linux = buildMachine({ config: configFor('linux64'), host: kvmHost(), paths });
    expect(one(linux, '-accel')).toBe('kvm');
    expect(one(linux, '-cpu')).toBe('host,arch-capabilities=off');
    expect(linux.notes).toEqual([]);
    const win = buildMachine({ config: configFor('windows10'), host: kvmHost(), paths });
    expect(one(win, '-cpu')).toBe(
      'host,arch-capabilities=off,hv_relaxed,hv_vapic,hv_spinlocks=0x1fff,hv_vpindex,hv_synic,hv_stimer,hv_time',
    );
    const w11 = buildMachine({ config: configFor('windows11'), host: kvmHost(true), paths });
    expect(one(w11, '-accel')).toBe('kvm');
  });

  it('runs a Secure Boot VM with TCG when KVM lacks SMM, and says so', () => {
    const plan = buildMachine({ config: configFor('windows11'), host: kvmHost(false), paths });
    expect(one(plan, '-accel')).toBe('tcg');
    expect(one(plan, '-cpu')).toBe('max');
    expect(plan.notes).toContain(
      "Secure Boot needs SMM, which this host's KVM lacks: running this VM with software emulation (TCG, slower).",
    );
    // Other VMs on the same host keep KVM.
    expect(one(buildMachine({ config: configFor('windows10'), host: kvmHost(false), paths }), '-accel')).toBe('kvm');
  });

  it('uses the plain OVMF pair for UEFI without Secure Boot, and no SMM', () => {
    const plan = buildMachine({ config: configFor('linux64'), host: hostInfo(), paths });
    expect(one(plan, '-machine')).toBe('q35,pflash0=ovmf-code,pflash1=nvram');
    expect(values(plan, '-global')).toEqual([]);
    expect(plan.prepare[0]).toMatchObject({
      kind: 'nvram',
      template: '/usr/share/OVMF/OVMF_VARS_4M.fd',
      secureBoot: false,
    });
    expect(values(plan, '-device')).toContain('virtio-blk-pci,drive=disk0,id=disk0-dev,bootindex=1');
    expect(values(plan, '-device').some((d) => d.startsWith('virtio-net-pci,'))).toBe(true);
  });

  it('refuses Secure Boot without the .ms OVMF, UEFI without OVMF, and a TPM without swtpm', () => {
    const noSb = hostInfo({ firmware: { ...hostInfo().firmware, ovmfSecureBoot: null } });
    expect(() => buildMachine({ config: configFor('windows11'), host: noSb, paths })).toThrow(/Secure Boot firmware/);
    const noOvmf = hostInfo({ firmware: { ...hostInfo().firmware, ovmf: null } });
    expect(() => buildMachine({ config: configFor('linux64'), host: noOvmf, paths })).toThrow(/UEFI firmware \(OVMF\)/);
    const noSwtpm = hostInfo({ swtpm: null });
    expect(() => buildMachine({ config: configFor('windows11'), host: noSwtpm, paths })).toThrow(/swtpm was not found/);
  });

  it('uses tpm-tis for a BIOS VM', () => {
    const plan = buildMachine({ config: configFor('linux32', { tpm: true }), host: hostInfo(), paths });
    expect(values(plan, '-device')).toContain('tpm-tis,tpmdev=tpm0');
  });
});

describe('buildMachine: details', () => {
  it('maps the boot order to bootindex, including network boot (which keeps the PXE ROM)', () => {
    const plan = buildMachine({
      config: configFor('linux32', { bootOrder: ['network', 'disk', 'cdrom'] }),
      host: hostInfo(),
      paths,
    });
    const devices = values(plan, '-device');
    expect(devices.find((d) => d.startsWith('e1000,'))).toBe(
      `e1000,netdev=net0,id=nic0,mac=${macAddressFor(ID)},bootindex=0`,
    );
    expect(devices).toContain('ide-hd,drive=disk0,bus=ide.0,unit=0,id=disk0-dev,bootindex=1');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0-media,bootindex=2');
  });

  it('forwards ports, and leaves the network out when the VM has no adapter', () => {
    const forwards = [
      { name: 'ssh', protocol: 'tcp' as const, hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
      { protocol: 'udp' as const, hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 },
    ];
    const on = buildMachine({
      config: configFor('linux64', { nics: [nic({ model: 'e1000', portForwards: forwards })] }),
      host: hostInfo(),
      paths,
    });
    expect(one(on, '-netdev')).toBe('user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:0.0.0.0:5353-:53');
    const off = buildMachine({ config: configFor('linux64', { nics: [] }), host: hostInfo(), paths });
    expect(off.argv).not.toContain('-netdev');
    expect(off.argv.join(' ')).not.toMatch(/mac=/);
    expect(off.nics).toEqual([]);
  });

  it('builds four adapters: NAT on its own subnet each, an internal network socket, none, every model', () => {
    const sockets = { 2: '/maru/run/net/lab,1/vm-2.sock' };
    const plan = buildMachine({
      config: configFor('linux64', {
        nics: [
          nic({ model: 'virtio-net' }),
          nic({ model: 'pcnet', mac: '08:00:27:ab:cd:ef' }),
          nic({ attachment: 'internal', network: 'lab', model: 'rtl8139' }),
          nic({ attachment: 'none', model: 'ne2k_pci' }),
        ],
      }),
      host: hostInfo(),
      paths,
      internalNetworkSockets: sockets,
    });
    expect(values(plan, '-netdev')).toEqual([
      'user,id=net0',
      'user,id=net1,net=10.0.3.0/24',
      'stream,id=net2,server=off,addr.type=unix,addr.path=/maru/run/net/lab,,1/vm-2.sock',
    ]);
    const nics = values(plan, '-device').filter((d) => /,id=nic\d/.test(d));
    expect(nics).toEqual([
      `virtio-net-pci,netdev=net0,id=nic0,mac=${macAddressFor(ID)},romfile=`,
      'pcnet,netdev=net1,id=nic1,mac=08:00:27:ab:cd:ef,romfile=',
      `rtl8139,netdev=net2,id=nic2,mac=${macAddressFor(ID, 2)},romfile=`,
      // Not attached: a NIC without a peer (QEMU 7.2 runs it; the guest sees no link).
      `ne2k_pci,id=nic3,mac=${macAddressFor(ID, 3)},romfile=`,
    ]);
    // Adapter 0 keeps the MAC every Maru VM had; the others differ from it and from each other.
    expect(macAddressFor(ID)).toBe('52:54:00:0f:1e:2d');
    expect(new Set([0, 1, 2, 3].map((i) => macAddressFor(ID, i))).size).toBe(4);
    expect(plan.nics.map((n) => [n.deviceId, n.netdevId, n.attachment])).toEqual([
      ['nic0', 'net0', 'nat'],
      ['nic1', 'net1', 'nat'],
      ['nic2', 'net2', 'internal'],
      ['nic3', null, 'none'],
    ]);
    // Every cable in: the guest starts running at once.
    expect(plan.heldForLinks).toBe(false);
    expect(plan.argv).not.toContain('-S');
  });

  it('an internal adapter without its socket is refused (the engine host provides one)', () => {
    const config = configFor('linux64', { nics: [nic({ attachment: 'internal', network: 'lab' })] });
    expect(() => buildMachine({ config, host: hostInfo(), paths })).toThrow(
      /Adapter 1 .* internal network "lab".*no socket/,
    );
  });

  it('an unplugged cable holds the CPUs (-S) until the engine sets the link down', () => {
    const plan = buildMachine({
      config: configFor('linux64', { nics: [nic(), nic({ cableConnected: false })] }),
      host: hostInfo(),
      paths,
    });
    expect(plan.argv).toContain('-S');
    expect(plan.heldForLinks).toBe(true);
    expect(plan.nics.map((n) => n.cableConnected)).toEqual([true, false]);
    // Resuming a saved state starts paused anyway: the engine continues after loading it.
    const resumed = buildMachine({
      config: configFor('linux64', { nics: [nic({ cableConnected: false })] }),
      host: hostInfo(),
      paths,
      startPaused: true,
    });
    expect(resumed.argv.filter((a) => a === '-S')).toHaveLength(1);
    expect(resumed.heldForLinks).toBe(false);
  });

  it('an empty CD/DVD drive is still there (media can be inserted later)', () => {
    const plan = buildMachine({
      config: configFor('linux32', { cdroms: [{ id: 'cd0', iso: null, bus: 'ide' }] }),
      host: hostInfo(),
      paths,
    });
    expect(values(plan, '-device')).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,bootindex=0');
    expect(plan.argv.join(' ')).not.toContain('cd0-media');
    expect(plan.removable).toEqual([{ id: 'cd0', kind: 'cdrom', deviceId: 'cd0', medium: null }]);
  });

  it('escapes commas in names and paths for QEMU options', () => {
    const p = { ...paths, vmFolder: '/data,1/vms/x', socketFolder: '/run,2/x' };
    const plan = buildMachine({
      config: configFor('linux32', { name: 'a,b', cdroms: [{ id: 'cd0', iso: '/isos/x,y.iso', bus: 'ide' }] }),
      host: hostInfo(),
      paths: p,
    });
    expect(one(plan, '-name')).toBe('guest=a,,b,process=maru-0f1e2d3c');
    expect(values(plan, '-blockdev')).toContain(
      'driver=file,node-name=disk0-file,filename=/data,,1/vms/x/disks/disk0.qcow2',
    );
    expect(values(plan, '-blockdev')).toContain('driver=file,node-name=cd0-file,filename=/isos/x,,y.iso,read-only=on');
    expect(one(plan, '-vnc')).toBe('unix:/run,,2/x/vnc.sock');
  });

  it('a BIOS VM without disks has nowhere to save its state', () => {
    const plan = buildMachine({ config: configFor('linux32', { disks: [] }), host: hostInfo(), paths });
    expect(plan.snapshot).toEqual({ vmstateNode: null, devices: [], images: [] });
  });

  it('is pure: the same input gives the same plan', () => {
    const a = buildMachine({ config: configFor('windows11'), host: hostInfo(), paths });
    const b = buildMachine({ config: configFor('windows11'), host: hostInfo(), paths });
    expect(a).toEqual(b);
  });
});

describe('buildMachine: storage (schema 3)', () => {
  const disk = (id: string, bus: VmConfig['disks'][number]['bus']) => ({
    id,
    file: `disks/${id}.qcow2`,
    bus,
    sizeBytes: 2 ** 30,
  });

  it('puts disks on SATA, virtio-scsi (one controller, scsi-hd each) and NVMe (a controller each, with a serial)', () => {
    const plan = buildMachine({
      config: configFor('linux64', {
        disks: [
          disk('disk0', 'ahci'),
          disk('disk1', 'virtio-scsi'),
          disk('disk2', 'virtio-scsi'),
          disk('disk3', 'nvme'),
        ],
        bootOrder: ['disk', 'cdrom'],
      }),
      host: hostInfo(),
      paths,
    });
    const devices = values(plan, '-device');
    expect(devices).toContain('ide-hd,drive=disk0,bus=ide.0,id=disk0-dev,bootindex=0');
    expect(devices.filter((d) => d.startsWith('virtio-scsi-pci'))).toEqual(['virtio-scsi-pci,id=scsi0']);
    expect(devices).toContain('scsi-hd,drive=disk1,bus=scsi0.0,id=disk1-dev,bootindex=1');
    expect(devices).toContain('scsi-hd,drive=disk2,bus=scsi0.0,id=disk2-dev,bootindex=2');
    expect(devices).toContain('nvme,drive=disk3,serial=MARU-disk3,id=disk3-dev,bootindex=3');
    // The CD/DVD drive takes the next SATA port; every disk is in the snapshot.
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,drive=cd0-media,bootindex=4');
    expect(plan.snapshot.devices).toEqual(['disk0', 'disk1', 'disk2', 'disk3', 'nvram']);
  });

  it('a pc: two CD/DVD drives and two IDE disks fill the two IDE channels; a fifth IDE drive is refused', () => {
    const config = configFor('windowsxp', {
      disks: [disk('disk0', 'ide'), disk('disk1', 'ide')],
      cdroms: [
        { id: 'cd0', iso: null, bus: 'ide' },
        { id: 'cd1', iso: '/isos/drivers.iso', bus: 'ide' },
      ],
      bootOrder: ['cdrom', 'disk'],
    });
    const devices = values(buildMachine({ config, host: hostInfo(), paths }), '-device');
    expect(devices).toContain('ide-hd,drive=disk0,bus=ide.0,unit=0,id=disk0-dev,bootindex=2');
    expect(devices).toContain('ide-hd,drive=disk1,bus=ide.0,unit=1,id=disk1-dev,bootindex=3');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,bootindex=0');
    expect(devices).toContain('ide-cd,id=cd1,bus=ide.1,unit=1,drive=cd1-media,bootindex=1');
    const five = { ...config, disks: [...config.disks, disk('disk2', 'ide')] };
    expect(() => buildMachine({ config: five, host: hostInfo(), paths })).toThrow(
      /two IDE channels hold 4 devices .* has 5 IDE drives \(disk disk0, disk disk1, disk disk2, CD\/DVD drive cd0 and CD\/DVD drive cd1\)/,
    );
  });

  it('refuses a seventh drive on the SATA controller, counting the CD/DVD drives', () => {
    const config = configFor('windows10', {
      disks: ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => disk(`disk-${x}`, 'ahci')),
    });
    expect(() => buildMachine({ config, host: hostInfo(), paths })).toThrow(
      /SATA \(AHCI\) controller has 6 ports .* 7 drives/,
    );
  });

  it("a pc's floppy drives sit on its built-in controller; boot order gives them a bootindex there", () => {
    const plan = buildMachine({
      config: configFor('dos', {
        floppies: [
          { id: 'fd0', image: '/floppies/dos622-1.img' },
          { id: 'fd1', image: null },
        ],
        bootOrder: ['floppy', 'cdrom', 'disk'],
      }),
      host: hostInfo(),
      paths,
    });
    const devices = values(plan, '-device');
    expect(devices).toContain('floppy,unit=0,id=fd0,drive=fd0-media');
    expect(devices).toContain('floppy,unit=1,id=fd1');
    expect(devices.some((d) => d.startsWith('isa-fdc'))).toBe(false);
    expect(values(plan, '-global')).toEqual(['isa-fdc.bootindexA=0', 'isa-fdc.bootindexB=1']);
    // A floppy is written like a disk: its raw node is not read-only.
    expect(values(plan, '-blockdev')).toContain('driver=file,node-name=fd0-file,filename=/floppies/dos622-1.img');
    expect(values(plan, '-blockdev')).toContain('driver=raw,node-name=fd0-media,file=fd0-file');
    expect(devices).toContain('ide-cd,id=cd0,bus=ide.1,unit=0,drive=cd0-media,bootindex=2');
    expect(plan.removable.map((d) => [d.id, d.kind, d.medium])).toEqual([
      ['cd0', 'cdrom', '/isos/installer.iso'],
      ['fd0', 'floppy', '/floppies/dos622-1.img'],
      ['fd1', 'floppy', null],
    ]);
    // Raw floppies are not in a saved state's snapshot (as the ISO is not).
    expect(plan.snapshot.devices).toEqual(['disk0']);
  });

  it('a q35 gets an isa-fdc for its floppy drive (it has no floppy controller of its own)', () => {
    const plan = buildMachine({
      config: configFor('linux64', { floppies: [{ id: 'fd0', image: null }], bootOrder: ['disk', 'floppy'] }),
      host: hostInfo(),
      paths,
    });
    const devices = values(plan, '-device');
    expect(devices).toContain('isa-fdc,id=fdc0,bootindexA=1');
    expect(devices).toContain('floppy,unit=0,id=fd0,bus=fdc0.0');
    expect(devices.indexOf('isa-fdc,id=fdc0,bootindexA=1')).toBeLessThan(
      devices.indexOf('floppy,unit=0,id=fd0,bus=fdc0.0'),
    );
  });
});
