// The VM configuration model (vm.json): a versioned zod schema and the migrations that
// lift older files to the current version. Parsing never mutates its input.
import * as z from 'zod';
import { PRESET_IDS } from './os-presets';
import { AppError } from './errors';
import { vmNameProblem } from './vm-name';

export const CURRENT_SCHEMA_VERSION = 2;

export { MAX_NAME_LENGTH, vmNameProblem } from './vm-name';

export const vmNameSchema = z.string().superRefine((name, ctx) => {
  const problem = vmNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const portForwardSchema = z.object({
  protocol: z.enum(['tcp', 'udp']),
  hostAddress: z.string().default('127.0.0.1'),
  hostPort: z.number().int().min(1).max(65535),
  guestPort: z.number().int().min(1).max(65535),
});
export type PortForward = z.infer<typeof portForwardSchema>;

export const diskSchema = z.object({
  /** Stable id, also the QEMU node name suffix. */
  id: z.string().regex(/^[a-z0-9-]{1,32}$/),
  /** Path relative to the VM folder (or absolute for an attached existing disk). */
  file: z.string().min(1),
  bus: z.enum(['ahci', 'ide', 'virtio']),
  /** Virtual size in bytes, as created. */
  sizeBytes: z.number().int().positive(),
  /**
   * The user attached this existing disk themselves: only then may `file` be an absolute path
   * outside the VM's folder (and never inside Maru's data folder). Absent in older files.
   */
  userAttached: z.boolean().optional(),
});
export type DiskConfig = z.infer<typeof diskSchema>;

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
    cdrom: z.object({ iso: z.string().nullable() }),
    bootOrder: z.array(z.enum(['cdrom', 'disk', 'floppy', 'network'])).min(1),
    network: z.object({
      enabled: z.boolean(),
      model: z.enum(['e1000e', 'e1000', 'rtl8139', 'ne2k_pci', 'virtio-net']),
      portForwards: z.array(portForwardSchema),
    }),
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

/** Each entry lifts version N to N+1. */
const MIGRATIONS: Record<number, (raw: unknown) => unknown> = { 1: migrateV1 };

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
