// OVF descriptors: one written the way VirtualBox's "Export Appliance" writes it (OVF 1.0,
// virtualbox-2.2, a vbox:Machine section) is read into the VM it describes; the structural
// rules VirtualBox's importer enforces find broken references, capacities and item types;
// Maru's own descriptor reads back with no problem; the XML reader refuses what is not XML.
import { describe, expect, it } from 'vitest';
import { buildOvf, parseOvf, presetForSystem, STREAM_OPTIMIZED } from '../../../src-main/services/appliance/ovf';
import { parseXml, XmlError } from '../../../src-shared/xml-lite';
import { virtualBoxOvf } from '../../integration/appliance/virtualbox-ovf';

describe('OVF descriptors', () => {
  it('reads a VirtualBox export: name, guest OS, CPUs, memory, EFI, the SATA disk, a CD drive, a NIC', () => {
    const env = parseOvf(virtualBoxOvf());
    expect(env.problems).toEqual([]);
    expect(env.version).toBe('1.0');
    expect(env.files).toEqual([{ id: 'file1', href: 'Debian server-disk001.vmdk', size: null }]);
    expect(env.disks).toEqual([
      { diskId: 'vmdisk1', fileRef: 'file1', capacityBytes: 1073741824, format: STREAM_OPTIMIZED },
    ]);
    expect(env.system).toEqual({
      name: 'Debian server',
      osCimId: 96,
      vboxOsType: 'Debian_64',
      cpus: 2,
      memoryMiB: 1024,
      firmware: 'uefi',
      disks: [{ diskId: 'vmdisk1', controller: 'sata' }],
      cdroms: 1,
      floppies: 0,
      nics: 1,
    });
    expect(presetForSystem(env.system)).toBe('linux64');
  });

  it('finds what VirtualBox would refuse: a disk with no file, no capacity, a dangling disk item, an unknown item type', () => {
    const broken = virtualBoxOvf({ capacity: 0 })
      .replace('ovf:fileRef="file1"', 'ovf:fileRef="file9"')
      .replace(
        '<rasd:HostResource>/disk/vmdisk1</rasd:HostResource>',
        '<rasd:HostResource>/disk/vmdisk7</rasd:HostResource>',
      )
      .replace('<rasd:ResourceType>15</rasd:ResourceType>', '<rasd:ResourceType>999</rasd:ResourceType>')
      .replace('<rasd:Parent>3</rasd:Parent>', '<rasd:Parent>42</rasd:Parent>');
    expect(parseOvf(broken).problems).toEqual([
      'Disk vmdisk1 refers to file "file9", which References does not list.',
      'Disk vmdisk1 has no usable capacity.',
      'Item 7 has an unknown ResourceType (999).',
      'Disk item 6 points at "/disk/vmdisk7", which DiskSection does not list.',
      'Item 7 hangs on Parent 42, which no Item has as InstanceID.',
    ]);
    expect(parseOvf(virtualBoxOvf({ diskFile: '../etc/passwd' })).problems).toContain(
      'File ../etc/passwd is not a plain file name inside the package.',
    );
  });

  it('refuses a document that is not an OVF envelope, or not XML, saying so', () => {
    expect(() => parseOvf('<html><body/></html>')).toThrow(/has <html> where <Envelope> belongs/);
    expect(() => parseOvf('<Envelope><References>')).toThrow(/is not well-formed XML: <References> is never closed/);
    expect(() => parseOvf('<!DOCTYPE x [<!ENTITY a "b">]><Envelope/>')).toThrow(/DOCTYPE/);
    expect(() => parseOvf('<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>')).toThrow(
      /describes no VirtualSystem/,
    );
  });

  it("writes Maru's own descriptor, which reads back with no problem and the same machine", () => {
    const xml = buildOvf({ name: 'Old <server> & "co"', os: 'windowsxp', cpus: 1, memoryMiB: 512 }, [
      { href: 'disk1.vmdk', sizeBytes: 123456, capacityBytes: 10 * 2 ** 30 },
      { href: 'disk2.vmdk', sizeBytes: 789, capacityBytes: 2 ** 30 },
    ]);
    const env = parseOvf(xml);
    expect(env.problems).toEqual([]);
    expect(env.files.map((f) => [f.href, f.size])).toEqual([
      ['disk1.vmdk', 123456],
      ['disk2.vmdk', 789],
    ]);
    expect(env.system).toMatchObject({
      name: 'Old <server> & "co"',
      vboxOsType: 'WindowsXP',
      cpus: 1,
      memoryMiB: 512,
      firmware: 'bios',
      disks: [
        { diskId: 'vmdisk1', controller: 'sata' },
        { diskId: 'vmdisk2', controller: 'sata' },
      ],
      cdroms: 1,
      nics: 1,
    });
    expect(presetForSystem(env.system)).toBe('windowsxp');
  });

  it('maps guest OS types as VirtualBox names them, and CIM ids when there is no name', () => {
    const cases: [string | null, number | null, string][] = [
      ['Windows11_64', 1, 'windows11'],
      ['Windows10_64', 1, 'windows10'],
      ['Windows7', 103, 'windows7'],
      ['WindowsXP', 67, 'windowsxp'],
      ['Windows98', 16, 'windows98'],
      ['DOS', 14, 'dos'],
      ['Ubuntu', 93, 'linux32'],
      [null, 102, 'linux64'],
      [null, 14, 'dos'],
      [null, null, 'other'],
    ];
    for (const [vboxOsType, osCimId, preset] of cases) expect(presetForSystem({ vboxOsType, osCimId })).toBe(preset);
  });

  it('the XML reader keeps text, attributes and entities, and refuses a bare ampersand', () => {
    const el = parseXml('<?xml version="1.0"?><a x="1 &lt; 2"><!-- c --><b>t &#x41;&#66;<![CDATA[<raw>]]></b></a>');
    expect(el.attributes).toEqual({ x: '1 < 2' });
    expect(el.children[0]!.text).toBe('t AB<raw>');
    expect(() => parseXml('<a>x & y</a>')).toThrow(XmlError);
  });
});
