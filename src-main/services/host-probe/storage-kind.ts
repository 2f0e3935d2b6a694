// Tells whether a folder lives on an SSD or a spinning disk (Linux: the block device's
// queue/rotational in sysfs); VM disks on an HDD make guests crawl, so the probe warns.
import { readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { isFsError } from './tool-discovery';

export type StorageKind = 'ssd' | 'hdd' | 'unknown';

export interface StorageInfo {
  readonly storage: StorageKind;
  /** The whole disk behind the folder, e.g. `/dev/nvme0n1`; null when not found. */
  readonly device: string | null;
  /** Why the answer is `unknown`, or a caveat. */
  readonly note?: string;
}

/** Linux `dev_t` → major:minor (glibc's gnu_dev_major/minor, 64-bit encoding). */
export function splitDeviceNumber(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Reads `rotational` (1 = hdd, 0 = ssd) for the disk under `folder`; never throws for a missing device. */
export async function detectStorageKind(
  folder: string,
  platform: NodeJS.Platform = process.platform,
): Promise<StorageInfo> {
  if (platform !== 'linux') return { storage: 'unknown', device: null, note: 'only detected on Linux' };
  try {
    const real = await realpath(folder);
    let { major, minor } = splitDeviceNumber((await stat(real, { bigint: true })).dev);
    if (major === 0) {
      // btrfs, overlayfs, NFS …: an anonymous device. Follow the mount's source when it is a /dev node.
      const source = await mountSourceDevice(real);
      if (!source) {
        return {
          storage: 'unknown',
          device: null,
          note: 'no block device behind this folder (virtual or network file system)',
        };
      }
      ({ major, minor } = splitDeviceNumber((await stat(source, { bigint: true })).rdev));
    }
    const disk = await wholeDiskDir(`/sys/dev/block/${major}:${minor}`);
    if (!disk) return { storage: 'unknown', device: null, note: `no sysfs entry for block device ${major}:${minor}` };
    const device = `/dev/${path.basename(disk)}`;
    const rotational = (await readFile(path.join(disk, 'queue', 'rotational'), 'utf8')).trim();
    if (rotational === '0') return { storage: 'ssd', device };
    if (rotational !== '1') return { storage: 'unknown', device, note: `queue/rotational reads "${rotational}"` };
    const driver = await diskDriver(disk);
    if (driver === 'virtio_blk' || driver === 'xen_blkfront' || driver === 'vbd') {
      // These drivers never clear the rotational flag, so "1" says nothing about the host's disk.
      return {
        storage: 'unknown',
        device,
        note: `virtual disk (${driver}): the guest kernel cannot tell SSD from HDD`,
      };
    }
    return { storage: 'hdd', device };
  } catch (err) {
    if (isFsError(err)) return { storage: 'unknown', device: null, note: `cannot read the device: ${err.message}` };
    throw err;
  }
}

/** From `/sys/dev/block/M:m` (a disk or a partition) to the whole disk's sysfs folder. */
async function wholeDiskDir(sysLink: string): Promise<string | null> {
  let dir: string;
  try {
    dir = await realpath(sysLink);
  } catch (err) {
    if (isFsError(err)) return null;
    throw err;
  }
  // A partition's folder sits inside its disk's folder and has no queue/ of its own.
  for (let depth = 0; depth < 4 && dir.startsWith('/sys/devices/'); depth++) {
    if (await exists(path.join(dir, 'queue', 'rotational'))) return dir;
    dir = path.dirname(dir);
  }
  return null;
}

async function diskDriver(diskDir: string): Promise<string | null> {
  try {
    return path.basename(await readlink(path.join(diskDir, 'device', 'driver')));
  } catch (err) {
    if (isFsError(err)) return null; // dm, md, loop …: no driver link
    throw err;
  }
}

/** The `/dev/…` source of the mount that holds `folder`, from /proc/self/mountinfo. */
async function mountSourceDevice(folder: string): Promise<string | null> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  let best: { mountPoint: string; source: string } | null = null;
  for (const line of mountinfo.split('\n')) {
    // proc(5): id parent major:minor root mount-point options … - fstype source super-options
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = unescapeMountField(left.split(' ')[4] ?? '');
    const source = unescapeMountField(right.split(' ')[1] ?? '');
    const inside = folder === mountPoint || folder.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { mountPoint, source };
  }
  return best?.source.startsWith('/dev/') ? best.source : null;
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (isFsError(err)) return false;
    throw err;
  }
}
