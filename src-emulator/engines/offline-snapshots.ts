// Internal snapshots of a powered-off VM's images: which images a snapshot covers (every qcow2
// disk, and the UEFI NVRAM), and create / apply / delete / list on them — with qemu-img where
// the host has it, else with Maru's own qcow2 code (a v86-only host).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';
import type { VmConfig } from '../../src-shared/vm-config';
import { Qcow2Image } from '../disk/qcow2-image';
import { NVRAM_FILE } from './qemu/machine-builder';
import * as qemuImg from './qemu/qemu-img';

export interface OfflineImageTools {
  /** qemu-img, when the host has it. */
  readonly qemuImgPath: string | null;
}

/** The image files a snapshot of `config` covers: its disks, and the NVRAM of a UEFI VM once it exists. */
export function snapshotImagesOf(config: VmConfig, vmFolder: string): string[] {
  const images = config.disks.map((d) => (path.isAbsolute(d.file) ? d.file : path.join(vmFolder, d.file)));
  const nvram = path.join(vmFolder, NVRAM_FILE);
  if (config.firmware === 'uefi' && existsSync(nvram)) images.push(nvram);
  return images;
}

async function withImage<T>(file: string, fn: (image: Qcow2Image) => Promise<T>): Promise<T> {
  const image = await Qcow2Image.open(file);
  try {
    const result = await fn(image);
    await image.flush();
    return result;
  } finally {
    await image.close();
  }
}

/** Internal snapshot names of an image. */
export async function imageSnapshotTags(file: string, tools: OfflineImageTools): Promise<string[]> {
  if (tools.qemuImgPath) return qemuImg.listSnapshots(tools.qemuImgPath, file);
  return withImage(file, async (image) => (await image.listSnapshots()).map((s) => s.name));
}

export async function createImageSnapshot(file: string, tag: string, tools: OfflineImageTools): Promise<void> {
  if (tools.qemuImgPath) return qemuImg.createSnapshot(tools.qemuImgPath, file, tag);
  await withImage(file, (image) => image.createSnapshot({ name: tag }));
}

export async function applyImageSnapshot(file: string, tag: string, tools: OfflineImageTools): Promise<void> {
  if (!(await imageSnapshotTags(file, tools)).includes(tag)) {
    throw new AppError(
      'IO',
      `The image ${file} lacks snapshot ${tag}: it was changed outside Maru, or the snapshot was removed from it.`,
    );
  }
  if (tools.qemuImgPath) return qemuImg.applySnapshot(tools.qemuImgPath, file, tag);
  await withImage(file, (image) => image.applySnapshot(tag));
}

/** Removes snapshot `tag` from an image; an image without it is left alone. */
export async function deleteImageSnapshot(file: string, tag: string, tools: OfflineImageTools): Promise<void> {
  if (!existsSync(file) || !(await imageSnapshotTags(file, tools)).includes(tag)) return;
  if (tools.qemuImgPath) return qemuImg.deleteSnapshot(tools.qemuImgPath, file, tag);
  await withImage(file, (image) => image.deleteSnapshot(tag));
}
