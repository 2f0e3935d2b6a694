// OVF descriptors (the `.ovf` inside an OVA, or beside its disk files): reading what a
// VirtualBox, VMware (or other) export says about its one virtual system in OVF 1.x or 2.0 — name,
// guest OS, CPUs, memory, firmware, disks and their controllers, and what Maru does not carry
// over — checking its structure as VirtualBox's importer does, and writing Maru's own OVF 1.0.
import { AppError } from '../../../src-shared/errors';
import type { PresetId } from '../../../src-shared/os-presets';
import { MAX_NICS, type NicConfig, type NicModel } from '../../../src-shared/vm-config';
import {
  attr,
  childNamed,
  childrenNamed,
  local,
  parseXml,
  XmlError,
  xmlEscape,
  type XmlElement,
} from '../../../src-shared/xml-lite';

export const OVF_NS = 'http://schemas.dmtf.org/ovf/envelope/1';
/** OVF 2.0 (DSP0243 2.x): the same sections, plus StorageItem (sasd) and EthernetPortItem (epasd) items. */
export const OVF2_NS = 'http://schemas.dmtf.org/ovf/envelope/2';
export const STREAM_OPTIMIZED = 'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

/** CIM ResourceType values an OVF hardware item may carry (DSP0243 / CIM_ResourceAllocationSettingData). */
const RESOURCE = {
  other: 1,
  cpu: 3,
  memory: 4,
  ide: 5,
  scsi: 6,
  ethernet: 10,
  floppy: 14,
  cdrom: 15,
  dvd: 16,
  disk: 17,
  usb: 23,
  sound: 35,
  storageOther: 20,
} as const;
const KNOWN_RESOURCE_TYPES: ReadonlySet<number> = new Set([
  ...Object.values(RESOURCE),
  2,
  7,
  8,
  9,
  11,
  12,
  13,
  18,
  19,
  21,
  22,
  24,
  25,
  26,
  27,
  28,
  29,
  30,
  31,
  32,
  33,
  34,
]);

export interface OvfFile {
  readonly id: string;
  readonly href: string;
  readonly size: number | null;
}

export interface OvfDisk {
  readonly diskId: string;
  readonly fileRef: string;
  readonly capacityBytes: number;
  readonly format: string;
}

export type OvfController = 'ide' | 'sata' | 'scsi' | 'other';

export interface OvfSystem {
  readonly name: string;
  readonly osCimId: number | null;
  readonly vboxOsType: string | null;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly firmware: 'bios' | 'uefi';
  /** Disks in the order the hardware lists them, with the controller each hangs on. */
  readonly disks: readonly { readonly diskId: string; readonly controller: OvfController }[];
  readonly cdroms: number;
  readonly floppies: number;
  readonly nics: number;
}

export interface OvfEnvelope {
  /** `ovf:version`, else what the namespace says ("1.0" or "2.0"). */
  readonly version: string;
  readonly files: readonly OvfFile[];
  readonly disks: readonly OvfDisk[];
  readonly system: OvfSystem;
  /** Structural problems VirtualBox's importer would refuse (empty: none). */
  readonly problems: readonly string[];
  /** What the descriptor describes that an imported VM does not get (extra NICs, CD images, USB, sound…). */
  readonly notCarried: readonly string[];
}

const UNITS: Readonly<Record<string, number>> = {
  byte: 1,
  'byte * 2^10': 2 ** 10,
  'byte * 2^20': 2 ** 20,
  'byte * 2^30': 2 ** 30,
  'byte * 2^40': 2 ** 40,
  KB: 2 ** 10,
  KILOBYTES: 2 ** 10,
  MB: 2 ** 20,
  MEGABYTES: 2 ** 20,
  GB: 2 ** 30,
  GIGABYTES: 2 ** 30,
};

function unitBytes(unit: string | undefined, fallback: number): number | null {
  if (unit === undefined || unit.trim() === '') return fallback;
  const u = unit.trim().replace(/\s+/g, ' ');
  return UNITS[u] ?? UNITS[u.toUpperCase()] ?? null;
}

function int(text: string | undefined): number | null {
  if (text === undefined || !/^\d+$/.test(text.trim())) return null;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : null;
}

function itemField(item: XmlElement, name: string): string | undefined {
  return childNamed(item, name)?.text;
}

function bad(message: string): AppError {
  return new AppError('INVALID_ARGUMENT', `The appliance's OVF descriptor ${message}`);
}

/**
 * Why an href cannot name a file beside the descriptor, or null: an absolute path or URL, a
 * `..` step, or anything but a plain file name (a folder, a hidden name).
 */
export function hrefProblem(href: string): string | null {
  if (/^([a-zA-Z][a-zA-Z0-9+.-]*:|[\\/])/.test(href)) {
    return `File ${href} is an absolute path or URL; an appliance's files must lie beside its descriptor.`;
  }
  if (href.split(/[\\/]/).includes('..')) return `File ${href} climbs out of the appliance's folder ("..").`;
  if (href.includes('/') || href.includes('\\') || href.startsWith('.') || href.includes('\0')) {
    return `File ${href} is not a plain file name beside the descriptor.`;
  }
  return null;
}

/** The OVF version an Envelope's namespace declares; refuses a document of another namespace. */
function envelopeVersion(root: XmlElement): '1.0' | '2.0' {
  const prefix = root.name.includes(':') ? root.name.slice(0, root.name.indexOf(':')) : '';
  const ns = root.attributes[prefix ? `xmlns:${prefix}` : 'xmlns'];
  if (ns === OVF_NS) return '1.0';
  if (ns === OVF2_NS) return '2.0';
  throw bad(
    ns === undefined
      ? `declares no OVF namespace (xmlns="${OVF_NS}" or "${OVF2_NS}"): it is not an OVF 1.x or 2.0 document.`
      : `is in namespace ${ns}, not OVF 1.x (${OVF_NS}) or 2.0 (${OVF2_NS}); older OVF 0.9 descriptors are not read.`,
  );
}

/** What kinds of hardware Maru does not make for an imported VM, by CIM ResourceType. */
const NOT_MADE: Readonly<Record<number, string>> = {
  1: 'Device',
  21: 'Serial port',
  22: 'Parallel port',
  23: 'USB controller',
  24: 'Graphics controller',
  35: 'Sound card',
};

/** Reads a descriptor; a document that is not OVF, or has no virtual system, is refused. */
export function parseOvf(xml: string): OvfEnvelope {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    if (err instanceof XmlError) throw bad(`is not well-formed XML: ${err.message}.`);
    throw err;
  }
  if (root.name.replace(/^.*:/, '') !== 'Envelope') throw bad(`has <${root.name}> where <Envelope> belongs.`);
  const problems: string[] = [];
  const notCarried: string[] = [];
  const nsVersion = envelopeVersion(root);
  const version = attr(root, 'version') ?? nsVersion;

  const references = childNamed(root, 'References');
  const fileElements = references ? childrenNamed(references, 'File') : [];
  const files: OvfFile[] = fileElements.map((f) => ({
    id: attr(f, 'id') ?? '',
    href: attr(f, 'href') ?? '',
    size: int(attr(f, 'size')),
  }));
  for (const [i, f] of files.entries()) {
    if (!f.id || !f.href) problems.push('A File in References has no ovf:id or no ovf:href.');
    else {
      const why = hrefProblem(f.href);
      if (why) problems.push(why);
      if (attr(fileElements[i]!, 'compression') !== undefined || attr(fileElements[i]!, 'chunkSize') !== undefined) {
        problems.push(
          `File ${f.href} is stored compressed or in chunks (ovf:compression, ovf:chunkSize), which Maru does not read.`,
        );
      }
    }
  }

  const disks: OvfDisk[] = [];
  const diskSection = childNamed(root, 'DiskSection');
  for (const d of diskSection ? childrenNamed(diskSection, 'Disk') : []) {
    const diskId = attr(d, 'diskId') ?? '';
    const fileRef = attr(d, 'fileRef') ?? '';
    const capacity = int(attr(d, 'capacity'));
    const unit = unitBytes(attr(d, 'capacityAllocationUnits'), 1);
    if (!diskId) problems.push('A Disk has no ovf:diskId.');
    if (!files.some((f) => f.id === fileRef))
      problems.push(`Disk ${diskId} refers to file "${fileRef}", which References does not list.`);
    if (capacity === null || capacity <= 0 || unit === null) problems.push(`Disk ${diskId} has no usable capacity.`);
    disks.push({ diskId, fileRef, capacityBytes: (capacity ?? 0) * (unit ?? 1), format: attr(d, 'format') ?? '' });
  }

  const collection = childNamed(root, 'VirtualSystemCollection');
  const vs = childNamed(root, 'VirtualSystem') ?? (collection ? childNamed(collection, 'VirtualSystem') : undefined);
  if (!vs) throw bad('describes no VirtualSystem.');
  const hw = childNamed(vs, 'VirtualHardwareSection');
  if (!hw) throw bad('has no VirtualHardwareSection.');
  const os = childNamed(vs, 'OperatingSystemSection');
  const vboxMachine = childNamed(vs, 'Machine');
  const name =
    (vboxMachine && attr(vboxMachine, 'name')) ||
    attr(vs, 'id') ||
    childNamed(vs, 'Name')?.text ||
    'Imported appliance';

  const items = hw.children.filter((c) => /(^|:)(Item|StorageItem|EthernetPortItem)$/.test(c.name));
  const ids = new Map<string, { type: number; subtype: string }>();
  for (const item of items) {
    const id = itemField(item, 'InstanceID') ?? '';
    // An OVF 2.0 EthernetPortItem is a NIC even where a writer leaves its ResourceType out.
    const type =
      int(itemField(item, 'ResourceType')) ??
      (local(item.name) === 'EthernetPortItem' && itemField(item, 'ResourceType') === undefined
        ? RESOURCE.ethernet
        : null);
    if (!id) problems.push('A hardware Item has no InstanceID.');
    else if (ids.has(id)) problems.push(`Two hardware Items share InstanceID ${id}.`);
    if (type === null || !KNOWN_RESOURCE_TYPES.has(type))
      problems.push(`Item ${id} has an unknown ResourceType (${itemField(item, 'ResourceType') ?? 'none'}).`);
    ids.set(id, { type: type ?? 0, subtype: (itemField(item, 'ResourceSubType') ?? '').toLowerCase() });
  }
  let cpus: number | null = null;
  let memoryMiB: number | null = null;
  const systemDisks: { diskId: string; controller: OvfController }[] = [];
  let cdroms = 0;
  let floppies = 0;
  let nics = 0;
  const hrefOf = (host: string): string | undefined => {
    const m = /^(?:ovf:)?\/file\/(.+)$/.exec(host.trim());
    return m ? files.find((f) => f.id === m[1])?.href : undefined;
  };
  const usedFiles = new Set<string>();
  for (const item of items) {
    const id = itemField(item, 'InstanceID') ?? '';
    const type = ids.get(id)?.type ?? 0;
    const parent = itemField(item, 'Parent');
    if (parent !== undefined && !ids.has(parent))
      problems.push(`Item ${id} hangs on Parent ${parent}, which no Item has as InstanceID.`);
    if (type === RESOURCE.cpu) cpus = int(itemField(item, 'VirtualQuantity'));
    else if (type === RESOURCE.memory) {
      const q = int(itemField(item, 'VirtualQuantity'));
      const unit = unitBytes(itemField(item, 'AllocationUnits'), 2 ** 20);
      if (q !== null && unit !== null) memoryMiB = Math.floor((q * unit) / 2 ** 20);
    } else if (type === RESOURCE.disk) {
      const host = itemField(item, 'HostResource') ?? '';
      const m = /^(?:ovf:)?\/disk\/(.+)$/.exec(host.trim());
      if (!m || !disks.some((d) => d.diskId === m[1])) {
        problems.push(`Disk item ${id} points at "${host}", which DiskSection does not list.`);
        continue;
      }
      const p = parent !== undefined ? ids.get(parent) : undefined;
      const controller: OvfController =
        p?.type === RESOURCE.ide
          ? 'ide'
          : p?.type === RESOURCE.scsi
            ? 'scsi'
            : p?.type === RESOURCE.storageOther && /ahci|sata/.test(p.subtype)
              ? 'sata'
              : 'other';
      systemDisks.push({ diskId: m[1]!, controller });
    } else if (type === RESOURCE.cdrom || type === RESOURCE.dvd) {
      cdroms++;
      const image = hrefOf(itemField(item, 'HostResource') ?? '');
      if (image !== undefined) {
        usedFiles.add(image);
        notCarried.push(`The image ${image} in CD/DVD drive ${id}: the imported VM's drive is empty.`);
      }
    } else if (type === RESOURCE.floppy) {
      floppies++;
      notCarried.push(`Floppy drive ${id}: the imported VM gets the floppy drives its guest OS preset has.`);
    } else if (type === RESOURCE.ethernet) {
      nics++;
      const what = [itemField(item, 'ResourceSubType'), itemField(item, 'Connection')].filter(Boolean);
      const label = what.length ? ` (${what.join(' on ')})` : '';
      // Each adapter becomes a NAT adapter of the imported VM, up to Maru's four.
      if (nics > MAX_NICS) {
        notCarried.push(`Network adapter ${nics}${label}: the imported VM has at most ${MAX_NICS} adapters.`);
      } else if (!/^(nat)?$/i.test(itemField(item, 'Connection') ?? '')) {
        notCarried.push(`Network adapter ${nics}${label} is attached to NAT in the imported VM.`);
      }
    } else if (NOT_MADE[type] !== undefined) {
      const caption =
        itemField(item, 'ElementName') || itemField(item, 'Caption') || itemField(item, 'ResourceSubType');
      notCarried.push(`${NOT_MADE[type]} ${id}${caption ? ` (${caption})` : ''}.`);
    }
  }
  for (const d of disks) {
    if (systemDisks.some((x) => x.diskId === d.diskId)) {
      const href = files.find((f) => f.id === d.fileRef)?.href;
      if (href !== undefined) usedFiles.add(href);
    } else if (d.diskId)
      notCarried.push(`Disk ${d.diskId}: no drive of the virtual system holds it, so it is not imported.`);
  }
  for (const f of files) {
    if (f.href && !usedFiles.has(f.href) && !disks.some((d) => d.fileRef === f.id)) {
      notCarried.push(`File ${f.href}: it is neither a disk nor a CD image of the virtual system.`);
    }
  }
  if (cpus === null || cpus < 1) problems.push('The virtual system has no CPU item (ResourceType 3) with a count.');
  if (memoryMiB === null || memoryMiB < 1)
    problems.push('The virtual system has no memory item (ResourceType 4) with a size.');

  const firmwareEl = vboxMachine ? findDeep(vboxMachine, 'Firmware') : undefined;
  const firmware = firmwareEl && /efi/i.test(attr(firmwareEl, 'type') ?? '') ? 'uefi' : 'bios';
  return {
    version,
    files,
    disks,
    system: {
      name,
      osCimId: os ? int(attr(os, 'id')) : null,
      vboxOsType: (os && childNamed(os, 'OSType')?.text) || (vboxMachine && attr(vboxMachine, 'OSType')) || null,
      cpus: cpus ?? 1,
      memoryMiB: memoryMiB ?? 0,
      firmware,
      disks: systemDisks,
      cdroms,
      floppies,
      nics,
    },
    problems,
    notCarried,
  };
}

function findDeep(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) {
    if (c.name.replace(/^.*:/, '') === name) return c;
    const inner = findDeep(c, name);
    if (inner) return inner;
  }
  return undefined;
}

/** VirtualBox OS type names (and the CIM ids OVF uses) → Maru's preset. */
export function presetForSystem(s: Pick<OvfSystem, 'osCimId' | 'vboxOsType'>): PresetId {
  const t = (s.vboxOsType ?? '').toLowerCase();
  if (t) {
    if (t.startsWith('windows11')) return 'windows11';
    if (t.startsWith('windows10') || t.startsWith('windows2016') || t.startsWith('windows2019')) return 'windows10';
    if (
      t.startsWith('windows7') ||
      t.startsWith('windows8') ||
      t.startsWith('windows81') ||
      t.startsWith('windows2008')
    )
      return 'windows7';
    if (t.startsWith('windowsxp') || t.startsWith('windows2003')) return 'windowsxp';
    if (t.startsWith('windows98') || t.startsWith('windows95') || t.startsWith('windowsme')) return 'windows98';
    if (t === 'dos') return 'dos';
    if (/linux|debian|ubuntu|fedora|redhat|opensuse|arch|gentoo|mandriva|oracle|turbolinux|xandros/.test(t)) {
      return t.endsWith('_64') ? 'linux64' : 'linux32';
    }
    return 'other';
  }
  const id = s.osCimId ?? 1;
  if (id === 14) return 'dos';
  if (id === 16 || id === 17) return 'windows98';
  if (id >= 67 && id <= 72) return 'windowsxp';
  if (id === 103 || id === 105) return 'windows7';
  if ([36, 79, 82, 83, 84, 89, 93, 95, 97, 99, 101, 106, 108].includes(id)) return 'linux32';
  if ([80, 81, 85, 86, 87, 88, 90, 94, 96, 98, 100, 102, 107, 109].includes(id)) return 'linux64';
  return 'other';
}

/** What Maru writes for its presets: VirtualBox's OS type and the nearest CIM id. */
const EXPORT_OS: Readonly<Record<PresetId, { readonly vbox: string; readonly cim: number }>> = {
  windows11: { vbox: 'Windows11_64', cim: 1 },
  windows10: { vbox: 'Windows10_64', cim: 1 },
  windows7: { vbox: 'Windows7_64', cim: 105 },
  windowsxp: { vbox: 'WindowsXP', cim: 67 },
  windows98: { vbox: 'Windows98', cim: 16 },
  dos: { vbox: 'DOS', cim: 14 },
  linux64: { vbox: 'Linux26_64', cim: 102 },
  linux32: { vbox: 'Linux26', cim: 101 },
  other: { vbox: 'Other', cim: 1 },
};

export interface OvfExportDisk {
  /** File name inside the package. */
  readonly href: string;
  readonly sizeBytes: number;
  readonly capacityBytes: number;
}

/** VirtualBox's names for the adapter models it has (the others are written as its E1000). */
const OVF_NIC_SUBTYPES: Readonly<Record<NicModel, string>> = {
  e1000e: 'E1000',
  e1000: 'E1000',
  rtl8139: 'E1000',
  ne2k_pci: 'E1000',
  'virtio-net': 'virtio',
  pcnet: 'PCNet32',
};

/** The network an adapter is on, as OVF's Connection and NetworkSection name it (null: not attached). */
function ovfNetwork(nic: Pick<NicConfig, 'attachment' | 'network'>): string | null {
  return nic.attachment === 'nat' ? 'NAT' : nic.attachment === 'internal' ? (nic.network ?? null) : null;
}

/**
 * Maru's OVF 1.0 descriptor for one VM: References, DiskSection (streamOptimized VMDKs),
 * NetworkSection, and a VirtualSystem with its OS, CPU, memory, one SATA controller with the
 * disks, an IDE controller with an empty CD drive, and an ethernet adapter per network adapter
 * (`nics`; without it, one NAT adapter).
 */
export function buildOvf(
  vm: {
    name: string;
    os: PresetId;
    cpus: number;
    memoryMiB: number;
    nics?: readonly Pick<NicConfig, 'attachment' | 'network' | 'model'>[];
  },
  disks: readonly OvfExportDisk[],
): string {
  const nics = vm.nics ?? [{ attachment: 'nat', model: 'e1000' }];
  const networks = [...new Set(nics.map(ovfNetwork).filter((n): n is string => n !== null))];
  if (networks.length === 0) networks.push('NAT');
  const e = xmlEscape;
  const os = EXPORT_OS[vm.os];
  const item = (fields: Record<string, string | number>) =>
    `      <Item>\n${Object.entries(fields)
      .map(([k, v]) => `        <rasd:${k}>${e(String(v))}</rasd:${k}>`)
      .join('\n')}\n      </Item>`;
  const items = [
    item({
      Caption: `${vm.cpus} virtual CPU`,
      Description: 'Number of virtual CPUs',
      ElementName: `${vm.cpus} virtual CPU`,
      InstanceID: 1,
      ResourceType: RESOURCE.cpu,
      VirtualQuantity: vm.cpus,
    }),
    item({
      AllocationUnits: 'MegaBytes',
      Caption: `${vm.memoryMiB} MB of memory`,
      Description: 'Memory Size',
      ElementName: `${vm.memoryMiB} MB of memory`,
      InstanceID: 2,
      ResourceType: RESOURCE.memory,
      VirtualQuantity: vm.memoryMiB,
    }),
    item({
      Address: 0,
      Caption: 'ideController0',
      Description: 'IDE Controller',
      ElementName: 'ideController0',
      InstanceID: 3,
      ResourceSubType: 'PIIX4',
      ResourceType: RESOURCE.ide,
    }),
    item({
      Address: 0,
      Caption: 'sataController0',
      Description: 'SATA Controller',
      ElementName: 'sataController0',
      InstanceID: 4,
      ResourceSubType: 'AHCI',
      ResourceType: RESOURCE.storageOther,
    }),
    // InstanceIDs 5..8: one per adapter (9 is the CD drive, 10… the disks).
    ...nics.map((nic, i) => {
      const net = ovfNetwork(nic);
      const caption = net === null ? 'Ethernet adapter (not attached)' : `Ethernet adapter on '${net}'`;
      return item({
        AutomaticAllocation: net === null ? 'false' : 'true',
        Caption: caption,
        ...(net === null ? {} : { Connection: net }),
        ElementName: caption,
        InstanceID: 5 + i,
        ResourceSubType: OVF_NIC_SUBTYPES[nic.model],
        ResourceType: RESOURCE.ethernet,
      });
    }),
    ...disks.map((d, i) =>
      item({
        AddressOnParent: i,
        Caption: `disk${i + 1}`,
        Description: 'Disk Image',
        ElementName: `disk${i + 1}`,
        HostResource: `/disk/vmdisk${i + 1}`,
        InstanceID: 10 + i,
        Parent: 4,
        ResourceType: RESOURCE.disk,
      }),
    ),
    item({
      AddressOnParent: 0,
      AutomaticAllocation: 'true',
      Caption: 'cdrom1',
      Description: 'CD-ROM Drive',
      ElementName: 'cdrom1',
      InstanceID: 9,
      Parent: 3,
      ResourceType: RESOURCE.cdrom,
    }),
  ];
  return `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xml:lang="en-US" xmlns="${OVF_NS}" xmlns:ovf="${OVF_NS}" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References>
${disks.map((d, i) => `    <File ovf:id="file${i + 1}" ovf:href="${e(d.href)}" ovf:size="${d.sizeBytes}"/>`).join('\n')}
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
${disks.map((d, i) => `    <Disk ovf:capacity="${d.capacityBytes}" ovf:diskId="vmdisk${i + 1}" ovf:fileRef="file${i + 1}" ovf:format="${STREAM_OPTIMIZED}"/>`).join('\n')}
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
${networks.map((n) => `    <Network ovf:name="${e(n)}">\n      <Description>Logical network used by this appliance.</Description>\n    </Network>`).join('\n')}
  </NetworkSection>
  <VirtualSystem ovf:id="${e(vm.name)}">
    <Info>A virtual machine</Info>
    <OperatingSystemSection ovf:id="${os.cim}">
      <Info>The kind of installed guest operating system</Info>
      <Description>${e(os.vbox)}</Description>
      <vbox:OSType ovf:required="false">${e(os.vbox)}</vbox:OSType>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>${e(vm.name)}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>
      </System>
${items.join('\n')}
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;
}
