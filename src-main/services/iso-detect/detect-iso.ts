// Detects what an install ISO is from its own bytes: volume labels (ISO 9660, Joliet, UDF),
// El Torito boot entries and well-known files. Opens the file read-only and reads only the
// sectors it needs (typically well under 1 MiB); never writes.
import { AppError } from '../../../src-shared/errors';
import type { IsoDetection } from '../../../src-shared/contracts/media';
import { classifyIso, type IsoFacts } from './classify-iso';
import { readNode, readNodeRange, TreeWalker, type FsTree } from './fs-tree';
import { IsoFile } from './iso-file';
import { Iso9660Tree, readBootCatalog, readVolumeDescriptors, volumeLabel } from './iso9660';
import { readUdf } from './udf';
import { decodeWimXml, parseWimXml, WIM_HEADER_SIZE, WIM_XML_MAX, wimXmlLocation, type WimInfo } from './wim-info';

/** Folders and files whose presence the classifier weighs. */
const PROBED_DIRS = [
  'isolinux',
  'syslinux',
  'casper',
  'live',
  'boot/grub',
  'arch',
  'images/pxeboot',
  'efi/boot',
  'i386',
  'sources',
];
const PROBED_FILES = ['efi/boot/bootx64.efi', 'efi/boot/bootia32.efi', 'i386/txtsetup.sif'];
const WINDOWS_IMAGES = ['sources/install.wim', 'sources/install.esd', 'sources/install.swm', 'sources/boot.wim'];

/** Plain errors from a damaged structure become "absent"; AppErrors (truncation) propagate. */
async function tolerant<T>(fallback: T, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    return fallback;
  }
}

async function readWim(walker: TreeWalker, file: string): Promise<WimInfo | null> {
  return tolerant(null, async () => {
    const node = await walker.find(file);
    if (!node) return null;
    const header = await readNode(walker.iso, node, WIM_HEADER_SIZE);
    const loc = wimXmlLocation(header);
    if (!loc) return null;
    const xml = await readNodeRange(walker.iso, node, loc.offset, Math.min(loc.size, WIM_XML_MAX));
    return parseWimXml(decodeWimXml(xml), loc.imageCount);
  });
}

function iniValue(text: string, key: string): string | null {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*(.+?)\\s*$`, 'im').exec(text);
  return m?.[1] ?? null;
}

/** The first line of a text file, without control characters, at most 200 characters. */
function firstLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = (text.split(/\r?\n/)[0] ?? '').replace(/[\u0000-\u001f]/g, '');
  return clean.trim().slice(0, 200);
}

async function gatherFacts(
  walker: TreeWalker,
  labels: IsoDetection['labels'],
  boot: IsoFacts['boot'],
): Promise<IsoFacts> {
  const rootNodes = (await tolerant(null, () => walker.list(''))) ?? [];
  const root = new Set(rootNodes.map((n) => n.name.replace(/;\d+$/, '').toLowerCase() + (n.isDir ? '/' : '')));
  const found = new Set<string>();
  for (const d of PROBED_DIRS) if (await tolerant(false, () => walker.isDir(d))) found.add(`${d}/`);
  for (const f of PROBED_FILES) if (await tolerant(false, () => walker.isFile(f))) found.add(f);
  let windowsImage: string | null = null;
  if (found.has('sources/')) {
    for (const f of WINDOWS_IMAGES) {
      if (await tolerant(false, () => walker.isFile(f))) {
        windowsImage = f;
        break;
      }
    }
  }
  let wim: WimInfo | null = null;
  let buildBranch: string | null = null;
  let buildArch: string | null = null;
  if (windowsImage) {
    wim = await readWim(walker, windowsImage);
    if (!wim?.build && windowsImage !== 'sources/boot.wim') wim = (await readWim(walker, 'sources/boot.wim')) ?? wim;
    const idwb = await tolerant(null, () => walker.readText('sources/idwbinfo.txt', 4096));
    if (idwb) {
      buildBranch = iniValue(idwb, 'BuildBranch');
      buildArch = iniValue(idwb, 'BuildArch');
    }
  }
  const info = await tolerant(null, () => walker.readText('.disk/info', 4096));
  const diskInfo = info ? firstLine(info) : null;
  return { labels, boot, root, found, windowsImage, wim, buildBranch, buildArch, diskInfo: diskInfo || null };
}

/**
 * What the ISO at `path` is. Throws AppError (INVALID_ARGUMENT) for an empty file, a file that
 * is not an ISO image, and a truncated one; NOT_FOUND when it does not exist. `stats` receives
 * how many bytes were read.
 */
export async function detectIso(path: string, stats?: { bytesRead: number }): Promise<IsoDetection> {
  const iso = await IsoFile.open(path);
  try {
    const vds = await readVolumeDescriptors(iso);
    const filesystems: IsoDetection['filesystems'][number][] = [];
    const trees: FsTree[] = [];
    let udfLabel: string | null = null;
    if (vds.udfNsr !== null) {
      const udf = await tolerant(null, () => readUdf(iso));
      if (udf) {
        filesystems.push('udf');
        udfLabel = udf.label;
        if (udf.tree) trees.push(udf.tree);
      }
    }
    if (vds.joliet) {
      const joliet = vds.joliet;
      const t = await tolerant(null, () => Iso9660Tree.open(iso, joliet, true));
      if (t) trees.push(t);
    }
    if (vds.primary) {
      const primary = vds.primary;
      const t = await tolerant(null, () => Iso9660Tree.open(iso, primary, false));
      if (t) trees.push(t);
      filesystems.push('iso9660');
      if (t?.kind === 'rock-ridge') filesystems.push('rock-ridge');
    }
    if (vds.joliet) filesystems.push('joliet');
    const labels = {
      iso9660: vds.primary ? volumeLabel(vds.primary, false) : null,
      joliet: vds.joliet ? volumeLabel(vds.joliet, true) : null,
      udf: udfLabel,
    };
    const lba = vds.bootCatalogLba;
    const catalog = lba !== null ? await tolerant(null, () => readBootCatalog(iso, lba)) : null;
    const boot = catalog ? { bios: catalog.bios, uefi: catalog.uefi } : null;
    const facts = await gatherFacts(new TreeWalker(iso, trees), labels, boot);
    const c = classifyIso(facts);
    return {
      path,
      sizeBytes: iso.sizeBytes,
      label: labels.udf ?? labels.joliet ?? labels.iso9660,
      labels,
      filesystems,
      preset: c.preset,
      confidence: c.confidence,
      osName: c.osName,
      reasons: c.reasons,
      boot: boot ?? { bios: false, uefi: false },
    };
  } finally {
    if (stats) stats.bytesRead = iso.bytesRead;
    await iso.close();
  }
}
