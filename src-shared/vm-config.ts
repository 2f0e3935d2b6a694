// The VM configuration model (vm.json): a versioned zod schema and the migrations that
// lift older files to the current version. Parsing never mutates its input.
import * as z from 'zod';
import { PRESET_IDS } from './os-presets';
import { AppError } from './errors';
import { vmNameProblem } from './vm-name';

export const CURRENT_SCHEMA_VERSION = 4;

export { MAX_NAME_LENGTH, vmNameProblem } from './vm-name';

export const vmNameSchema = z.string().superRefine((name, ctx) => {
  const problem = vmNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const portForwardSchema = z.object({
  /** The rule's name (VBoxManage `--natpf1 "ssh,tcp,,2222,,22"`: "ssh"); unique per adapter. Absent in older files. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/)
    .optional(),
  protocol: z.enum(['tcp', 'udp']),
  hostAddress: z.string().default('127.0.0.1'),
  hostPort: z.number().int().min(1).max(65535),
  guestPort: z.number().int().min(1).max(65535),
});
export type PortForward = z.infer<typeof portForwardSchema>;

/** A drive's id: stable, unique among the VM's disks, CD/DVD and floppy drives; QEMU's node and device name. */
const driveIdSchema = z.string().regex(/^[a-z0-9-]{1,32}$/);

/** Where a hard disk is attached: IDE, SATA (AHCI), virtio-blk, virtio-scsi (one controller), NVMe (a controller each). */
export const DISK_BUSES = ['ide', 'ahci', 'virtio', 'virtio-scsi', 'nvme'] as const;
export type DiskBusName = (typeof DISK_BUSES)[number];
/** Where a CD/DVD drive is attached. */
export const CDROM_BUSES = ['ide', 'ahci'] as const;
/** Floppy drives a PC has: A: and B:. */
export const MAX_FLOPPY_DRIVES = 2;

export const diskSchema = z.object({
  /** Stable id, also the QEMU node name suffix. */
  id: driveIdSchema,
  /** Path relative to the VM folder (or absolute for an attached existing disk). */
  file: z.string().min(1),
  bus: z.enum(DISK_BUSES),
  /** Virtual size in bytes, as created. */
  sizeBytes: z.number().int().positive(),
  /**
   * The user attached this existing disk themselves: only then may `file` be an absolute path
   * outside the VM's folder (and never inside Maru's data folder). Absent in older files.
   */
  userAttached: z.boolean().optional(),
});
export type DiskConfig = z.infer<typeof diskSchema>;

/** A CD/DVD drive and the ISO in it (an absolute path, or null when empty). */
export const cdromSchema = z.object({
  id: driveIdSchema,
  iso: z.string().nullable(),
  bus: z.enum(CDROM_BUSES),
});
export type CdromConfig = z.infer<typeof cdromSchema>;

/** A floppy drive (A: is the first) and the image in it (an absolute path, or null when empty). */
export const floppySchema = z.object({
  id: driveIdSchema,
  image: z.string().nullable(),
});
export type FloppyConfig = z.infer<typeof floppySchema>;

/** Network adapter models: Intel PRO/1000 (e1000e, e1000), Realtek 8139, NE2000 (old guests, v86), virtio, AMD PCnet. */
export const NIC_MODELS = ['e1000e', 'e1000', 'rtl8139', 'ne2k_pci', 'virtio-net', 'pcnet'] as const;
export type NicModel = (typeof NIC_MODELS)[number];
/**
 * What an adapter is attached to: NAT (user-mode networking: the guest reaches the host's
 * networks, port forwards reach the guest), an internal network by name (the VMs on the same
 * name see each other, nothing else), or nothing (the adapter is there, no cable).
 */
export const NIC_ATTACHMENTS = ['nat', 'internal', 'none'] as const;
export type NicAttachment = (typeof NIC_ATTACHMENTS)[number];
/** Adapters per VM (VirtualBox's settings dialog shows 4 too). */
export const MAX_NICS = 4;
/** An internal network's name: letters, digits, dot, dash, underscore (it names a folder of sockets). */
export const NETWORK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A unicast MAC address, lower case, colon separated. */
export const MAC_PATTERN = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;

export const nicSchema = z
  .object({
    attachment: z.enum(NIC_ATTACHMENTS),
    /** internal: the network's name (required there, absent otherwise). */
    network: z.string().regex(NETWORK_NAME_PATTERN).optional(),
    model: z.enum(NIC_MODELS),
    /** Absent: derived from the VM's uuid and the adapter's index (a clone gets its own). */
    mac: z.string().regex(MAC_PATTERN).optional(),
    /** Unplugged: the guest sees no link (switchable while the VM runs). */
    cableConnected: z.boolean(),
    /** NAT only. */
    portForwards: z.array(portForwardSchema),
  })
  .superRefine((n, ctx) => {
    if (n.attachment === 'internal' && !n.network) {
      ctx.addIssue({ code: 'custom', path: ['network'], message: 'An internal network adapter needs a network name.' });
    }
    if (n.attachment !== 'internal' && n.network !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['network'],
        message: 'Only an internal network adapter has a network name.',
      });
    }
    if (n.attachment !== 'nat' && n.portForwards.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['portForwards'], message: 'Port forwards need a NAT adapter.' });
    }
  });
export type NicConfig = z.infer<typeof nicSchema>;

export const vmConfigSchema = z
  .object({
    schemaVersion: z.literal(CURRENT_SCHEMA_VERSION),
    id: z.uuid(),
    name: vmNameSchema,
    os: z.enum(PRESET_IDS),
    engine: z.enum(['auto', 'qemu', 'v86']),
    cpus: z.number().int().min(1).max(512),
    memoryMiB: z
      .number()
      .int()
      .min(4)
      .max(16 * 1024 * 1024),
    chipset: z.enum(['q35', 'pc']),
    firmware: z.enum(['bios', 'uefi']),
    secureBoot: z.boolean(),
    tpm: z.boolean(),
    disks: z.array(diskSchema),
    cdroms: z.array(cdromSchema),
    floppies: z.array(floppySchema).max(MAX_FLOPPY_DRIVES),
    bootOrder: z.array(z.enum(['cdrom', 'disk', 'floppy', 'network'])).min(1),
    /** Network adapters, in PCI order (the guest's eth0 is the first). */
    nics: z.array(nicSchema).max(MAX_NICS),
    display: z.object({ vga: z.enum(['std', 'cirrus', 'virtio', 'vmware']) }),
    description: z.string().max(10_000),
    /**
     * A linked clone: its disks are overlays on frozen bases in the source VM's folder. `trial`:
     * made by "try it on a copy" (ends with Keep — made independent — or Discard).
     */
    linkedClone: z.object({ sourceId: z.uuid(), trial: z.boolean() }).optional(),
    createdAt: z.iso.datetime(),
    modifiedAt: z.iso.datetime(),
  })
  .superRefine((c, ctx) => {
    if (c.secureBoot && c.firmware !== 'uefi') {
      ctx.addIssue({ code: 'custom', path: ['secureBoot'], message: 'Secure Boot needs UEFI firmware.' });
    }
    const ids = new Set<string>();
    for (const [kind, list] of [
      ['disks', c.disks],
      ['cdroms', c.cdroms],
      ['floppies', c.floppies],
    ] as const) {
      list.forEach((d, i) => {
        if (ids.has(d.id)) {
          ctx.addIssue({ code: 'custom', path: [kind, i, 'id'], message: `Drive id "${d.id}" is used twice.` });
        }
        ids.add(d.id);
      });
    }
    const files = new Set<string>();
    c.disks.forEach((d, i) => {
      if (files.has(d.file)) {
        ctx.addIssue({ code: 'custom', path: ['disks', i, 'file'], message: `Disk file ${d.file} is attached twice.` });
      }
      files.add(d.file);
    });
  });
export type VmConfig = z.infer<typeof vmConfigSchema>;

/** Version 1 (Maru 0.0.x): flat fields, a single disk, UEFI as a boolean. */
const vmConfigV1Schema = z.object({
  version: z.literal(1),
  id: z.uuid(),
  name: z.string(),
  os: z.string(),
  engine: z.enum(['auto', 'qemu', 'v86']).optional(),
  cpus: z.number().int(),
  memory: z.number().int(),
  disk: z.object({ path: z.string(), size: z.number().int() }).nullable().optional(),
  iso: z.string().nullable().optional(),
  uefi: z.boolean().optional(),
  secureBoot: z.boolean().optional(),
  tpm: z.boolean().optional(),
  description: z.string().optional(),
  created: z.string().optional(),
});

function migrateV1(raw: unknown): unknown {
  const v1 = vmConfigV1Schema.parse(raw);
  const now = v1.created ?? new Date(0).toISOString();
  const os = (PRESET_IDS as readonly string[]).includes(v1.os) ? v1.os : 'other';
  const legacy = ['windowsxp', 'windows98', 'dos', 'linux32', 'other', 'windows7'].includes(os);
  return {
    schemaVersion: 2,
    id: v1.id,
    name: v1.name,
    os,
    engine: v1.engine ?? 'auto',
    cpus: v1.cpus,
    memoryMiB: v1.memory,
    chipset: legacy ? 'pc' : 'q35',
    firmware: v1.uefi ? 'uefi' : 'bios',
    secureBoot: v1.secureBoot ?? false,
    tpm: v1.tpm ?? false,
    disks: v1.disk ? [{ id: 'disk0', file: v1.disk.path, bus: legacy ? 'ide' : 'ahci', sizeBytes: v1.disk.size }] : [],
    cdrom: { iso: v1.iso ?? null },
    bootOrder: ['disk', 'cdrom'],
    network: { enabled: true, model: legacy ? 'rtl8139' : 'e1000e', portForwards: [] },
    display: { vga: 'std' },
    description: v1.description ?? '',
    createdAt: now,
    modifiedAt: now,
  };
}

/** What version 3 changed of version 2: one CD/DVD drive (`cdrom`), no floppy drives. */
const vmConfigV2StorageSchema = z.looseObject({
  schemaVersion: z.literal(2),
  chipset: z.enum(['q35', 'pc']),
  cdrom: z.object({ iso: z.string().nullable() }),
  disks: z.array(z.looseObject({ id: z.string() })),
});

/**
 * Version 2 → 3: the one CD/DVD drive becomes `cdroms[0]` on the bus the QEMU machine gave it
 * (q35: its built-in AHCI controller; pc: IDE, secondary master; v86 VMs are `pc`), and the
 * VM gets no floppy drive (it had none). The machine QEMU builds is the same device for device.
 */
function migrateV2(raw: unknown): unknown {
  const v2 = vmConfigV2StorageSchema.parse(raw);
  const { cdrom, ...rest } = v2;
  let id = 'cd0';
  for (let n = 1; v2.disks.some((d) => d.id === id); n++) id = `cd${n}`;
  return {
    ...rest,
    schemaVersion: 3,
    cdroms: [{ id, iso: cdrom.iso, bus: v2.chipset === 'q35' ? 'ahci' : 'ide' }],
    floppies: [],
  };
}

/** What version 4 changed of version 3: one NAT adapter (`network`), on or off. */
const vmConfigV3NetworkSchema = z.looseObject({
  schemaVersion: z.literal(3),
  network: z.object({
    enabled: z.boolean(),
    model: z.enum(['e1000e', 'e1000', 'rtl8139', 'ne2k_pci', 'virtio-net']),
    portForwards: z.array(z.looseObject({})),
  }),
});

/**
 * Version 3 → 4: the one adapter becomes `nics[0]` — NAT with its port forwards when it was on;
 * when it was off, no adapter (the machine had none). Its MAC stays the one derived from the
 * uuid, so the guest sees the same adapter.
 */
function migrateV3(raw: unknown): unknown {
  const v3 = vmConfigV3NetworkSchema.parse(raw);
  const { network, ...rest } = v3;
  return {
    ...rest,
    schemaVersion: 4,
    nics: network.enabled
      ? [{ attachment: 'nat', model: network.model, cableConnected: true, portForwards: network.portForwards }]
      : [],
  };
}

/** Each entry lifts version N to N+1. */
const MIGRATIONS: Record<number, (raw: unknown) => unknown> = { 1: migrateV1, 2: migrateV2, 3: migrateV3 };

function versionOf(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const v = r.schemaVersion ?? r.version;
  return typeof v === 'number' ? v : undefined;
}

function describeZodError(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

/**
 * Parses a vm.json document (already JSON-decoded) of any known version into the current
 * model. Throws AppError('INACCESSIBLE') saying what is wrong. Never mutates `raw`.
 */
export function parseVmConfig(raw: unknown): { config: VmConfig; migratedFrom: number | undefined } {
  let version = versionOf(raw);
  if (version === undefined) throw new AppError('INACCESSIBLE', 'vm.json has no schemaVersion.');
  if (version > CURRENT_SCHEMA_VERSION) {
    throw new AppError(
      'INACCESSIBLE',
      `vm.json is schema version ${version}, newer than this Maru understands (${CURRENT_SCHEMA_VERSION}). Update Maru.`,
    );
  }
  const from = version;
  let doc = raw;
  try {
    while (version < CURRENT_SCHEMA_VERSION) {
      const step = MIGRATIONS[version];
      if (!step) throw new AppError('INACCESSIBLE', `vm.json schema version ${version} is not a known version.`);
      doc = step(doc);
      version++;
    }
  } catch (err) {
    if (err instanceof z.ZodError) {
      throw new AppError('INACCESSIBLE', `vm.json (version ${from}) is invalid: ${describeZodError(err)}`);
    }
    throw err;
  }
  const parsed = vmConfigSchema.safeParse(doc);
  if (!parsed.success) throw new AppError('INACCESSIBLE', `vm.json is invalid: ${describeZodError(parsed.error)}`);
  return { config: parsed.data, migratedFrom: from === CURRENT_SCHEMA_VERSION ? undefined : from };
}
