// Dropping a powered-off VM's saved state is the saving engine's business: each kind removes
// what it wrote (QEMU: the internal snapshot in every image, with qemu-img; v86: its state
// file and the qcow2 snapshot, in TypeScript). Loaded on demand, dispatched by kind.
import type { EngineKind, SavedStateMarker } from '../../src-shared/contracts/engine';
import { AppError } from '../../src-shared/errors';

export interface DiscardContext {
  /** qemu-img, when the host has it (QEMU states need it; v86 states do not). */
  readonly qemuImgPath: string | null;
}

type Discard = (marker: SavedStateMarker, ctx: DiscardContext) => Promise<void>;

const DISCARDS = {
  qemu: async (marker, ctx) => {
    if (!ctx.qemuImgPath) {
      throw new AppError('MISSING_DEPENDENCY', "qemu-img is needed to discard a saved state: install QEMU's tools.");
    }
    const { existsSync } = await import('node:fs');
    const { deleteSnapshot, listSnapshots } = await import('./qemu/qemu-img');
    for (const image of marker.images) {
      if (!existsSync(image)) continue;
      if ((await listSnapshots(ctx.qemuImgPath, image)).includes(marker.tag)) {
        await deleteSnapshot(ctx.qemuImgPath, image, marker.tag);
      }
    }
  },
  v86: async (marker) => (await import('./v86/v86-engine')).discardV86SavedState(marker),
} satisfies Record<EngineKind, Discard>;

/** Removes the saved state `marker` describes from the VM's images (not the marker itself). */
export async function discardSavedState(marker: SavedStateMarker, ctx: DiscardContext): Promise<void> {
  if (!Object.hasOwn(DISCARDS, marker.engine)) {
    throw new AppError(
      'UNSUPPORTED',
      `The saved state was made by an engine this Maru does not know (${JSON.stringify(marker.engine)}).`,
    );
  }
  await DISCARDS[marker.engine](marker, ctx);
}
