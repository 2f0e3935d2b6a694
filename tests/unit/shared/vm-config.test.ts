// The vm.json model: names, schema rules, and migration of older versions.
import { describe, expect, it } from 'vitest';
import { CURRENT_SCHEMA_VERSION, parseVmConfig, vmNameProblem } from '../../../src-shared/vm-config';
import { AppError } from '../../../src-shared/errors';
import { OS_PRESETS, PRESET_IDS } from '../../../src-shared/os-presets';

const valid = {
  schemaVersion: 4,
  id: '3f0c1b7e-9a51-4c3e-8f7a-1d2e3f4a5b6c',
  name: 'Win11',
  os: 'windows11',
  engine: 'auto',
  cpus: 2,
  memoryMiB: 4096,
  chipset: 'q35',
  firmware: 'uefi',
  secureBoot: true,
  tpm: true,
  disks: [{ id: 'disk0', file: 'disks/disk0.qcow2', bus: 'ahci', sizeBytes: 64 * 2 ** 30 }],
  cdroms: [{ id: 'cd0', iso: null, bus: 'ahci' }],
  floppies: [],
  bootOrder: ['disk', 'cdrom'],
  nics: [{ attachment: 'nat', model: 'e1000e', cableConnected: true, portForwards: [] }],
  display: { vga: 'std' },
  description: '',
  createdAt: '2026-11-22T10:00:00.000Z',
  modifiedAt: '2026-11-22T10:00:00.000Z',
};

describe('vmNameProblem', () => {
  it.each([
    ['', /empty/],
    ['a/b', /path separator/],
    ['a\\b', /path separator/],
    ['..', /dots/],
    ['.', /dots/],
    [' lead', /space/],
    ['trail ', /space/],
    ['tab\there', /control/],
    ['x'.repeat(65), /longer than 64/],
    ['what?', /not allowed/],
  ])('refuses %j', (name, why) => {
    expect(vmNameProblem(name)).toMatch(why);
  });
  it.each(['Win11', 'Old DOS 6.22', '윈도우 11', 'a.b-c_d (copy)', 'x'.repeat(64)])('accepts %j', (name) => {
    expect(vmNameProblem(name)).toBeUndefined();
  });
});

describe('parseVmConfig', () => {
  it('parses the current version unchanged', () => {
    const { config, migratedFrom } = parseVmConfig(structuredClone(valid));
    expect(config).toEqual(valid);
    expect(migratedFrom).toBeUndefined();
  });

  it('refuses Secure Boot without UEFI', () => {
    expect(() => parseVmConfig({ ...valid, firmware: 'bios' })).toThrow(/Secure Boot needs UEFI/);
  });

  it('names the bad field', () => {
    expect(() => parseVmConfig({ ...valid, cpus: 0 })).toThrow(/cpus/);
    expect(() => parseVmConfig({ ...valid, name: 'a/b' })).toThrow(/name: .*path separator/);
  });

  it('refuses a newer schema with a clear message', () => {
    const err = (() => {
      try {
        parseVmConfig({ ...valid, schemaVersion: CURRENT_SCHEMA_VERSION + 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('INACCESSIBLE');
    expect((err as AppError).message).toMatch(/newer than this Maru understands/);
  });

  it('refuses a document without version', () => {
    expect(() => parseVmConfig({ name: 'x' })).toThrow(/no schemaVersion/);
    expect(() => parseVmConfig(null)).toThrow(/no schemaVersion/);
  });

  it('migrates version 1 without touching the input', () => {
    const v1 = {
      version: 1,
      id: '0b7f4a55-1c1e-4a39-9a53-8a0f0d9c2e11',
      name: 'Legacy',
      os: 'windows98',
      cpus: 1,
      memory: 64,
      disk: { path: 'disks/hd.qcow2', size: 2 * 2 ** 30 },
      iso: '/isos/win98.iso',
      uefi: false,
      created: '2025-01-01T00:00:00.000Z',
    };
    const before = JSON.stringify(v1);
    const { config, migratedFrom } = parseVmConfig(v1);
    expect(JSON.stringify(v1)).toBe(before);
    expect(migratedFrom).toBe(1);
    expect(config.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(config.memoryMiB).toBe(64);
    expect(config.chipset).toBe('pc');
    expect(config.firmware).toBe('bios');
    expect(config.disks).toEqual([{ id: 'disk0', file: 'disks/hd.qcow2', bus: 'ide', sizeBytes: 2 * 2 ** 30 }]);
    expect(config.cdroms).toEqual([{ id: 'cd0', iso: '/isos/win98.iso', bus: 'ide' }]);
    expect(config.floppies).toEqual([]);
  });

  it('migrates version 2 (one CD/DVD drive) to 3 in memory: the drive keeps the bus QEMU gave it', () => {
    const { schemaVersion: _v, cdroms: _c, floppies: _f, nics: _n, ...rest } = valid;
    const network = { enabled: true, model: 'e1000e', portForwards: [] };
    const q35 = { ...rest, schemaVersion: 2, cdrom: { iso: '/isos/win11.iso' }, network };
    const before = JSON.stringify(q35);
    const { config, migratedFrom } = parseVmConfig(q35);
    expect(JSON.stringify(q35)).toBe(before);
    expect(migratedFrom).toBe(2);
    expect(config.schemaVersion).toBe(CURRENT_SCHEMA_VERSION);
    expect(config).not.toHaveProperty('cdrom');
    // q35: the CD/DVD drive was on its AHCI controller; a pc had it as IDE secondary master.
    expect(config.cdroms).toEqual([{ id: 'cd0', iso: '/isos/win11.iso', bus: 'ahci' }]);
    expect(config.floppies).toEqual([]);
    expect(config.disks).toEqual(valid.disks);
    const pc = parseVmConfig({ ...q35, chipset: 'pc', firmware: 'bios', secureBoot: false, cdrom: { iso: null } });
    expect(pc.config.cdroms).toEqual([{ id: 'cd0', iso: null, bus: 'ide' }]);
  });

  it('a version 2 file whose cdrom is malformed is inaccessible, naming the version', () => {
    const { schemaVersion: _v, cdroms: _c, floppies: _f, nics: _n, ...rest } = valid;
    expect(() => parseVmConfig({ ...rest, schemaVersion: 2, cdrom: 'x.iso' })).toThrow(/version 2\) is invalid: cdrom/);
  });

  it('refuses a drive id used twice, a disk file attached twice, and a third floppy drive', () => {
    expect(() => parseVmConfig({ ...valid, cdroms: [{ id: 'disk0', iso: null, bus: 'ide' }] })).toThrow(
      /Drive id "disk0" is used twice/,
    );
    expect(() => parseVmConfig({ ...valid, disks: [...valid.disks, { ...valid.disks[0], id: 'disk1' }] })).toThrow(
      /disks\.1\.file: Disk file disks\/disk0\.qcow2 is attached twice/,
    );
    const fd = (id: string) => ({ id, image: null });
    expect(() => parseVmConfig({ ...valid, floppies: [fd('fd0'), fd('fd1'), fd('fd2')] })).toThrow(/floppies/);
    expect(() => parseVmConfig({ ...valid, disks: [{ ...valid.disks[0], bus: 'sas' }] })).toThrow(/disks\.0\.bus/);
    expect(parseVmConfig({ ...valid, disks: [{ ...valid.disks[0], bus: 'nvme' }] }).config.disks[0]!.bus).toBe('nvme');
  });

  it('migrates version 3 (one NAT adapter, on or off) to 4: adapter 1 keeps its model and forwards', () => {
    const { schemaVersion: _v, nics: _n, ...rest } = valid;
    const forwards = [
      { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
      { protocol: 'udp', hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 },
    ];
    const v3 = { ...rest, schemaVersion: 3, network: { enabled: true, model: 'rtl8139', portForwards: forwards } };
    const before = JSON.stringify(v3);
    const { config, migratedFrom } = parseVmConfig(v3);
    expect(JSON.stringify(v3)).toBe(before);
    expect(migratedFrom).toBe(3);
    expect(config).not.toHaveProperty('network');
    // No MAC of its own: the one derived from the uuid for adapter 0, the MAC the guest saw before.
    expect(config.nics).toEqual([
      { attachment: 'nat', model: 'rtl8139', cableConnected: true, portForwards: forwards },
    ]);

    const off = parseVmConfig({ ...v3, network: { enabled: false, model: 'e1000e', portForwards: [] } });
    expect(off.config.nics).toEqual([]);
    // A v3 file whose network is malformed is inaccessible, naming the version.
    expect(() => parseVmConfig({ ...v3, network: { enabled: 'yes', model: 'e1000e', portForwards: [] } })).toThrow(
      /version 3\) is invalid: network/,
    );
  });

  it('checks adapters: at most 4, an internal one names its network, forwards only on NAT, MACs unicast', () => {
    const nat = valid.nics[0]!;
    const five = Array.from({ length: 5 }, () => nat);
    expect(() => parseVmConfig({ ...valid, nics: five })).toThrow(/nics/);
    expect(() => parseVmConfig({ ...valid, nics: [{ ...nat, attachment: 'internal' }] })).toThrow(
      /nics\.0\.network: An internal network adapter needs a network name/,
    );
    const fwd = { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 };
    expect(() => parseVmConfig({ ...valid, nics: [{ ...nat, attachment: 'none', portForwards: [fwd] }] })).toThrow(
      /Port forwards need a NAT adapter/,
    );
    expect(() => parseVmConfig({ ...valid, nics: [{ ...nat, mac: '01:00:5e:00:00:01' }] })).toThrow(/nics\.0\.mac/);
    const internal = { ...nat, attachment: 'internal', network: 'lab-1', model: 'pcnet', cableConnected: false };
    expect(parseVmConfig({ ...valid, nics: [nat, internal] }).config.nics[1]).toEqual(internal);
  });

  it('reports a broken version 1 file as inaccessible', () => {
    expect(() => parseVmConfig({ version: 1, id: 'nope' })).toThrow(/version 1\) is invalid/);
  });
});

describe('OS presets', () => {
  it('Windows 11 is UEFI + Secure Boot + TPM 2.0, ≥ 4 GiB, ≥ 64 GiB, ≥ 2 CPUs, q35, AHCI, e1000e', () => {
    const w = OS_PRESETS.windows11;
    expect([w.firmware, w.secureBoot, w.tpm, w.chipset, w.diskBus, w.nic]).toEqual([
      'uefi',
      true,
      true,
      'q35',
      'ahci',
      'e1000e',
    ]);
    expect(w.memoryMiB).toBeGreaterThanOrEqual(4096);
    expect(w.diskGiB).toBeGreaterThanOrEqual(64);
    expect(w.cpus).toBeGreaterThanOrEqual(2);
  });
  it('every preset is self-consistent', () => {
    for (const id of PRESET_IDS) {
      const p = OS_PRESETS[id];
      expect(p.id).toBe(id);
      if (p.secureBoot) expect(p.firmware).toBe('uefi');
      if (p.engine === 'v86') {
        expect(p.arch).toBe('i386');
        expect(p.firmware).toBe('bios');
        expect(p.cpus).toBe(1);
        expect(p.memoryMiB).toBeLessThanOrEqual(2048);
      }
    }
  });
});
