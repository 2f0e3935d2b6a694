// The `snapshots` control service: a VM's snapshot tree (vms/<uuid>/snapshots.json) and what a
// user does with it — take, restore, delete, edit, the screen each snapshot was taken on. The
// same for both engines; every front end calls these methods. Long operations are jobs.
import * as z from 'zod';
import type { VmConfig } from '../vm-config';
import type { JobOptions } from './jobs';
import type { VmPowerState } from './library';
import { job, method, type MethodSpec } from './method';

/** `live`: RAM + devices + disks (taken while running or paused); `disk`: disks only (taken while off). */
export type SnapshotKind = 'live' | 'disk';

export interface SnapshotInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** The snapshot this one was taken after (null for a root). */
  readonly parentId: string | null;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly kind: SnapshotKind;
  /** The VM's settings when it was taken (a restore brings them back). */
  readonly config: VmConfig;
  /** The screen when it was taken (a PNG for `thumbnail`). */
  readonly hasThumbnail: boolean;
  /** Bytes of saved RAM + device state (0 for disk-only snapshots); null when unknown. */
  readonly stateBytes: number | null;
}

export interface SnapshotTree {
  readonly vmId: string;
  /** In the order they were taken. */
  readonly snapshots: readonly SnapshotInfo[];
  /** "Current state" sits under this snapshot: the one last taken or restored (null: none). */
  readonly currentId: string | null;
  /** snapshots.json could not be read: why (the file is left as it is; nothing is written). */
  readonly damaged: string | null;
  /** What an interrupted operation left, and what was done about it (once, on the read that found it). */
  readonly recovered: string | null;
  /** Where the images disagree with the list (a snapshot missing from an image, a tag the list does not know). */
  readonly problems: readonly string[];
}

export interface SnapshotTakeOptions {
  /** Default "Snapshot N". */
  readonly name?: string | undefined;
  readonly description?: string | undefined;
}

export interface SnapshotRestoreResult {
  readonly tree: SnapshotTree;
  /** The VM's power state afterwards: a live snapshot restored to a running VM runs again. */
  readonly state: VmPowerState;
  readonly message: string;
}

export interface SnapshotService {
  list(vmRef: string): Promise<SnapshotTree>;
  /** Live while the VM runs or is paused (the guest pauses only while RAM is written); disk-only while off. */
  take(vmRef: string, options: SnapshotTakeOptions, job?: JobOptions): Promise<SnapshotInfo>;
  /** Puts disks, settings (and for a live snapshot RAM and devices) back as the snapshot holds them. */
  restore(vmRef: string, snapshotRef: string, job?: JobOptions): Promise<SnapshotRestoreResult>;
  /** Removes one snapshot; its children move under its parent. The current state stays as it is. */
  delete(vmRef: string, snapshotRef: string, job?: JobOptions): Promise<SnapshotTree>;
  edit(vmRef: string, snapshotRef: string, changes: { name?: string; description?: string }): Promise<SnapshotInfo>;
  /** The screen the snapshot was taken on (base64 PNG), or null when it has none. */
  thumbnail(vmRef: string, snapshotRef: string): Promise<{ readonly png: string } | null>;
  /**
   * Makes the images and the list agree again (the VM must not run): a snapshot tag the list
   * does not know is deleted from its image; a snapshot missing from one of its images (it can
   * no longer be restored) leaves the list, its tags in the other images with it. Says what it did.
   */
  repair(vmRef: string): Promise<SnapshotRepair>;
  /**
   * A full clone of the VM at a snapshot: the VM (off) is copied with its whole tree, and the
   * copy is restored to that snapshot — its disks, settings and, for a live snapshot, the saved
   * RAM it resumes from. Returns the new VM's id and name.
   */
  clone(vmRef: string, snapshotRef: string, options: { name: string }, job?: JobOptions): Promise<SnapshotClone>;
  /**
   * "Try it on a copy": a linked clone of a powered-off VM's current state, marked as a trial
   * of it, started. Returns the trial.
   */
  tryCopy(vmRef: string, job?: JobOptions): Promise<TrialResult>;
  /**
   * Ends the trial of `vmRef` (the trial itself or its source): Keep makes it an ordinary,
   * independent VM (its disks flattened, with progress); Discard deletes it with its disks.
   */
  endTrial(vmRef: string, options: { keep: boolean }, job?: JobOptions): Promise<TrialEnd>;
}

export interface SnapshotRepair {
  readonly tree: SnapshotTree;
  /** One line per change made (empty: nothing disagreed). */
  readonly repaired: readonly string[];
}

export interface SnapshotClone {
  readonly vmId: string;
  readonly name: string;
  /** The snapshot the clone is at (its id is the same in the clone's tree). */
  readonly snapshotId: string;
}

export interface TrialResult {
  readonly trialId: string;
  readonly trialName: string;
  readonly sourceId: string;
}

export interface TrialEnd {
  readonly trialId: string;
  readonly trialName: string;
  /** kept: now an independent VM; discarded: deleted with its disks. */
  readonly outcome: 'kept' | 'discarded';
}

const vmRef = z.string().min(1).max(256);
const snapshotRef = z.string().min(1).max(256);
export const SNAPSHOT_NAME_MAX = 128;
export const SNAPSHOT_DESCRIPTION_MAX = 4096;
const name = z.string().trim().min(1).max(SNAPSHOT_NAME_MAX);
const description = z.string().max(SNAPSHOT_DESCRIPTION_MAX);

export const snapshotMethods = {
  list: method(z.tuple([vmRef])),
  take: job(z.tuple([vmRef, z.object({ name: name.optional(), description: description.optional() }).strict()])),
  restore: job(z.tuple([vmRef, snapshotRef])),
  delete: job(z.tuple([vmRef, snapshotRef])),
  edit: method(
    z.tuple([vmRef, snapshotRef, z.object({ name: name.optional(), description: description.optional() }).strict()]),
  ),
  thumbnail: method(z.tuple([vmRef, snapshotRef])),
  repair: method(z.tuple([vmRef])),
  clone: job(z.tuple([vmRef, snapshotRef, z.object({ name: z.string().min(1).max(256) }).strict()])),
  tryCopy: job(z.tuple([vmRef])),
  endTrial: job(z.tuple([vmRef, z.object({ keep: z.boolean() }).strict()])),
} satisfies Record<keyof SnapshotService, MethodSpec>;
