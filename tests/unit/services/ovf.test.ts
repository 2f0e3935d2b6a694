// OVF descriptors: one written the way VirtualBox's "Export Appliance" writes it (OVF 1.0,
// virtualbox-2.2, a vbox:Machine section) is read into the VM it describes, and its OVF 2.0
// form (StorageItem / EthernetPortItem) into the same VM; the structural rules VirtualBox's
// importer enforces find broken references, capacities, item types and hrefs that leave the
// appliance's folder; what an import does not carry over is listed; Maru's own descriptor
// reads back with no problem; the XML reader refuses what is not XML.
import { describe, expect, it } from 'vitest';
import { buildOvf, parseOvf, presetForSystem, STREAM_OPTIMIZED } from '../../../src-main/services/appliance/ovf';
import { parseXml, XmlError } from '../../../src-shared/xml-lite';
import { virtualBoxOvf, virtualBoxOvf2 } from '../../integration/appliance/virtualbox-ovf';

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
      'File ../etc/passwd climbs out of the appliance\'s folder ("..").',
    );
  });

  it('refuses a document that is not an OVF envelope, or not XML, saying so', () => {
    expect(() => parseOvf('<html><body/></html>')).toThrow(/has <html> where <Envelope> belongs/);
    expect(() => parseOvf('<Envelope><References>')).toThrow(/is not well-formed XML: <References> is never closed/);
    expect(() => parseOvf('<!DOCTYPE x [<!ENTITY a "b">]><Envelope/>')).toThrow(/DOCTYPE/);
    expect(() => parseOvf('<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>')).toThrow(
      /describes no VirtualSystem/,
    );
    expect(() => parseOvf('<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/2"/>')).toThrow(
      /describes no VirtualSystem/,
    );
    // OVF 0.9 (VMware's old namespace) and an Envelope in no namespace are not OVF 1.x or 2.0.
    expect(() =>
      parseOvf(
        virtualBoxOvf().replaceAll(
          'http://schemas.dmtf.org/ovf/envelope/1',
          'http://www.vmware.com/schema/ovf/1/envelope',
        ),
      ),
    ).toThrow(/is in namespace http:\/\/www\.vmware\.com\/schema\/ovf\/1\/envelope, not OVF 1\.x .* or 2\.0/);
    expect(() => parseOvf('<Envelope ovf:version="1.0"><VirtualSystem/></Envelope>')).toThrow(
      /declares no OVF namespace/,
    );
  });

  it("reads VirtualBox 7's OVF 2.0 export (sasd:StorageItem, epasd:EthernetPortItem) as the same machine as its OVF 1.0 one", () => {
    const v1 = parseOvf(virtualBoxOvf());
    const v2 = parseOvf(virtualBoxOvf2());
    expect(v2.problems).toEqual([]);
    expect(v2.version).toBe('2.0');
    expect(v2.files).toEqual(v1.files);
    expect(v2.disks).toEqual(v1.disks);
    // The disk on its StorageItem hangs on the SATA controller (an rasd Item); the DVD drive and the NIC count.
    expect(v2.system).toEqual(v1.system);
    expect(presetForSystem(v2.system)).toBe('linux64');
    // What the 2.0 export has beyond the 1.0 one — its USB controller and sound card — is listed, not dropped silently.
    expect(v1.notCarried).toEqual([]);
    expect(v2.notCarried).toEqual(['USB controller 5 (usb).', 'Sound card 6 (sound).']);
  });

  it('maps OVF 2.0 storage and NIC items to their controllers and lists what an import does not carry over', () => {
    const xml = virtualBoxOvf2()
      // A second disk, on the IDE controller, written as a StorageItem with the ovf: prefix VMware uses.
      .replace(
        '</References>',
        '  <File ovf:id="file2" ovf:href="data.vmdk" ovf:size="4096"/>\n    <File ovf:id="file3" ovf:href="tools.iso"/>\n    <File ovf:id="file4" ovf:href="spare.vmdk"/>\n  </References>',
      )
      .replace(
        '</DiskSection>',
        `  <Disk ovf:capacity="8" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:format="${STREAM_OPTIMIZED}"/>\n    <Disk ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk3" ovf:fileRef="file4" ovf:format="${STREAM_OPTIMIZED}"/>\n  </DiskSection>`,
      )
      .replace(
        '<sasd:Caption>cdrom1</sasd:Caption>',
        '<sasd:Caption>cdrom1</sasd:Caption>\n        <sasd:HostResource>ovf:/file/file3</sasd:HostResource>',
      )
      .replace(
        '    </VirtualHardwareSection>',
        [
          '      <StorageItem>',
          '        <sasd:AddressOnParent>1</sasd:AddressOnParent>',
          '        <sasd:HostResource>ovf:/disk/vmdisk2</sasd:HostResource>',
          '        <sasd:InstanceID>10</sasd:InstanceID>',
          '        <sasd:Parent>3</sasd:Parent>',
          '        <sasd:ResourceType>17</sasd:ResourceType>',
          '      </StorageItem>',
          '      <EthernetPortItem>',
          '        <epasd:Connection>Bridged</epasd:Connection>',
          '        <epasd:InstanceID>11</epasd:InstanceID>',
          '        <epasd:ResourceSubType>virtio</epasd:ResourceSubType>',
          '      </EthernetPortItem>',
          '    </VirtualHardwareSection>',
        ].join('\n'),
      );
    const env = parseOvf(xml);
    expect(env.problems).toEqual([]);
    expect(env.system.disks).toEqual([
      { diskId: 'vmdisk1', controller: 'sata' },
      { diskId: 'vmdisk2', controller: 'ide' },
    ]);
    expect(env.disks[1]!.capacityBytes).toBe(8 * 2 ** 30);
    // An EthernetPortItem without a ResourceType is still a NIC.
    expect(env.system.nics).toBe(2);
    expect(env.notCarried).toEqual([
      'USB controller 5 (usb).',
      'Sound card 6 (sound).',
      "The image tools.iso in CD/DVD drive 8: the imported VM's drive is empty.",
      'Network adapter 2 (virtio on Bridged) is attached to NAT in the imported VM.',
      'Disk vmdisk3: no drive of the virtual system holds it, so it is not imported.',
    ]);
  });

  it("finds hrefs that would leave the appliance's folder, and files it cannot read as they are stored", () => {
    const problems = (href: string) => parseOvf(virtualBoxOvf({ diskFile: href })).problems;
    expect(problems('/etc/shadow')).toEqual([
      "File /etc/shadow is an absolute path or URL; an appliance's files must lie beside its descriptor.",
    ]);
    expect(problems('C:\\Windows\\disk.vmdk')[0]).toMatch(/is an absolute path or URL/);
    expect(problems('file:///etc/shadow')[0]).toMatch(/is an absolute path or URL/);
    expect(problems('disks/../../outside.vmdk')).toEqual([
      'File disks/../../outside.vmdk climbs out of the appliance\'s folder ("..").',
    ]);
    expect(problems('disks/disk1.vmdk')).toEqual([
      'File disks/disk1.vmdk is not a plain file name beside the descriptor.',
    ]);
    expect(problems('.hidden.vmdk')).toEqual(['File .hidden.vmdk is not a plain file name beside the descriptor.']);
    expect(problems('Debian server-disk001.vmdk')).toEqual([]);
    const gz = virtualBoxOvf().replace('ovf:id="file1"', 'ovf:id="file1" ovf:compression="gzip"');
    expect(parseOvf(gz).problems).toEqual([
      'File Debian server-disk001.vmdk is stored compressed or in chunks (ovf:compression, ovf:chunkSize), which Maru does not read.',
    ]);
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

  it('writes an ethernet item per network adapter, on NAT or its internal network, and reads them back', () => {
    const xml = buildOvf(
      {
        name: 'lab',
        os: 'linux64',
        cpus: 1,
        memoryMiB: 512,
        nics: [
          { attachment: 'nat', model: 'virtio-net' },
          { attachment: 'internal', network: 'backplane', model: 'pcnet' },
          { attachment: 'none', model: 'e1000' },
        ],
      },
      [{ href: 'disk1.vmdk', sizeBytes: 1, capacityBytes: 2 ** 30 }],
    );
    const env = parseOvf(xml);
    expect(env.problems).toEqual([]);
    expect(env.system.nics).toBe(3);
    expect(xml).toContain('<Network ovf:name="NAT">');
    expect(xml).toContain('<Network ovf:name="backplane">');
    expect(xml).toContain('<rasd:Connection>backplane</rasd:Connection>');
    expect(xml).toContain('<rasd:ResourceSubType>PCNet32</rasd:ResourceSubType>');
    expect(xml).toContain('<rasd:Caption>Ethernet adapter (not attached)</rasd:Caption>');
    // Imported again, each adapter is NAT: the internal one is said so.
    expect(env.notCarried).toEqual(['Network adapter 2 (PCNet32 on backplane) is attached to NAT in the imported VM.']);
    // A VM without adapters exports none.
    const none = parseOvf(buildOvf({ name: 'quiet', os: 'dos', cpus: 1, memoryMiB: 32, nics: [] }, []));
    expect(none.system.nics).toBe(0);
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
