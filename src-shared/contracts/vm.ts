// The `vm` control service: everything a front end does to a VM's run — start (a job:
// progress + cancel), stop, pause, resume, reset, save and discard its state, the CD/DVD and
// floppy media of a running or stored VM, screenshots, keys, the serial console, and its engine status. The
// desktop, the web console and the CLI all call these methods; only the transport differs.
import * as z from 'zod';
import type { AbortedMarker, EngineState, EngineStatus, ScreenshotWire, StopResult } from './engine';
import { hostPathArg } from './access';
import { portForwardArgSchema, type PortForwardArgs } from './library';
import { MAX_NICS, type NicConfig } from '../vm-config';
import type { JobOptions } from './jobs';
import { job, method, type MethodSpec } from './method';

export interface VmStartResult {
  readonly vmId: string;
  readonly name: string;
  readonly status: EngineStatus;
}

/** Where `attachIso` / `eject` / `changeMedium` took effect: the running VM's drive (this run) or the stored config. */
export interface VmMediaResult {
  readonly vmId: string;
  readonly name: string;
  readonly live: boolean;
  /** The image now in the drive (absolute path), null when empty. (Named for the CD/DVD, where it began.) */
  readonly iso: string | null;
  /** The drive that changed (`cd0`, `fd0` …) and its kind. */
  readonly drive?: string;
  readonly kind?: 'cdrom' | 'floppy';
}

/** Where a network adapter change took effect: the running VM at once (and its config), or the config only. */
export interface VmNicResult {
  readonly vmId: string;
  readonly name: string;
  /** True when the running VM changed at once; the config holds the change either way. */
  readonly live: boolean;
  /** The adapter, counted from 0 (adapter 1 of the CLI and the settings dialog is 0). */
  readonly nicIndex: number;
  /** The adapter as the VM's config holds it now. */
  readonly nic: NicConfig;
}

/** A VM's screen for the library row: PNG (base64), and whether it is the live screen. */
export interface VmThumbnail {
  readonly pngBase64: string;
  readonly live: boolean;
}

/** How a serial follow ended: the VM's final state, or null when the follower stopped watching. */
export interface SerialFollowResult {
  readonly endedState: EngineState | null;
}

export interface VmService {
  /** Starts the VM in an engine host and waits until it runs (seconds; cancellable). */
  start(vmRef: string, job?: JobOptions): Promise<VmStartResult>;
  /**
   * ACPI power button (`force: false`: forced off after `timeoutSeconds`, default 60) or pull
   * the plug. Returns once the engine host has cleaned up, so a start right after finds the
   * VM free. A dead engine host is cleaned up instead (state `aborted`).
   */
  stop(vmRef: string, options: { force: boolean; timeoutSeconds?: number | undefined }): Promise<StopResult>;
  pause(vmRef: string): Promise<EngineStatus>;
  resume(vmRef: string): Promise<EngineStatus>;
  reset(vmRef: string): Promise<EngineStatus>;
  /** Saves RAM and devices and powers the VM off; the next start resumes it. */
  saveState(vmRef: string, job?: JobOptions): Promise<StopResult>;
  /** Drops a powered-off VM's saved state, so the next start boots afresh. */
  discardState(vmRef: string): Promise<void>;
  /** Puts an ISO in the CD/DVD drive: at once for a running VM (this run), else in its config. */
  attachIso(vmRef: string, isoPath: string): Promise<VmMediaResult>;
  eject(vmRef: string): Promise<VmMediaResult>;
  /**
   * Puts an image in a CD/DVD or floppy drive, or empties it (`medium: null`): at once for a
   * running VM (this run), else in its config. `drive` is a drive id (`cd1`, `fd0` …), or
   * `cdrom` / `floppy` for the VM's first drive of that kind. A floppy image must have a
   * floppy's size; an ISO must be one.
   */
  changeMedium(vmRef: string, drive: string, medium: string | null): Promise<VmMediaResult>;
  /**
   * Plugs the cable of adapter `nicIndex` (from 0) in or pulls it: at once for a running VM
   * (the guest sees its link come or go), and in the VM's config either way.
   */
  setLinkState(vmRef: string, nicIndex: number, connected: boolean): Promise<VmNicResult>;
  /**
   * Adds a port forward to NAT adapter `nicIndex`: at once for a running VM, and in its config
   * either way. A running VM's host port is tried first: one another program holds is refused.
   * A rule without a name is named `tcp-2222` (protocol and host port).
   */
  addPortForward(vmRef: string, nicIndex: number, rule: PortForwardArgs): Promise<VmNicResult>;
  /** Removes port-forward rule `name` of NAT adapter `nicIndex`: at once for a running VM, and in its config. */
  removePortForward(vmRef: string, nicIndex: number, name: string): Promise<VmNicResult>;
  /** The engine host's status, or null when the VM is not running. */
  status(vmRef: string): Promise<EngineStatus | null>;
  /** Why the VM is `aborted` (null when it is not). */
  abortInfo(vmRef: string): Promise<AbortedMarker | null>;
  /** The running VM's screen as PNG. */
  screenshot(vmRef: string): Promise<ScreenshotWire>;
  /**
   * The VM's screen for the library: live while it runs, else the last screen it showed (kept
   * when it was stopped or saved, or the snapshot's after a restore); null when there is none.
   */
  thumbnail(vmRef: string): Promise<VmThumbnail | null>;
  /** Types `text` (US layout) or presses each combo (e.g. ['ctrl', 'alt', 'delete']) in turn. */
  sendKeys(vmRef: string, input: { text: string } | { combos: readonly (readonly string[])[] }): Promise<void>;
  /** Types a line into the guest's first serial port. */
  sendSerial(vmRef: string, text: string): Promise<void>;
  /** The serial log of the VM's last run (text). */
  readSerial(vmRef: string): Promise<string>;
  /** Streams the serial console as progress `data` until the VM ends or the job is cancelled. */
  followSerial(vmRef: string, options: { history: boolean }, job?: JobOptions): Promise<SerialFollowResult>;
}

const vmRef = z.string().min(1).max(256);
const MAX_TEXT = 64 * 1024;
const combo = z.array(z.string().min(1).max(32)).min(1).max(8);
const nicIndex = z
  .number()
  .int()
  .min(0)
  .max(MAX_NICS - 1);

export const vmMethods = {
  start: job(z.tuple([vmRef])),
  stop: method(
    z.tuple([
      vmRef,
      z.object({
        force: z.boolean(),
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(24 * 3600)
          .optional(),
      }),
    ]),
  ),
  pause: method(z.tuple([vmRef])),
  resume: method(z.tuple([vmRef])),
  reset: method(z.tuple([vmRef])),
  saveState: job(z.tuple([vmRef])),
  discardState: method(z.tuple([vmRef])),
  attachIso: method(z.tuple([vmRef, hostPathArg('media')])),
  eject: method(z.tuple([vmRef])),
  changeMedium: method(z.tuple([vmRef, z.string().min(1).max(64), hostPathArg('media').nullable()])),
  setLinkState: method(z.tuple([vmRef, nicIndex, z.boolean()])),
  addPortForward: method(z.tuple([vmRef, nicIndex, portForwardArgSchema])),
  removePortForward: method(z.tuple([vmRef, nicIndex, z.string().min(1).max(64)])),
  status: method(z.tuple([vmRef])),
  abortInfo: method(z.tuple([vmRef])),
  screenshot: method(z.tuple([vmRef])),
  thumbnail: method(z.tuple([vmRef])),
  sendKeys: method(
    z.tuple([
      vmRef,
      z.union([
        z.object({ text: z.string().min(1).max(MAX_TEXT) }).strict(),
        z.object({ combos: z.array(combo).min(1).max(32) }).strict(),
      ]),
    ]),
  ),
  sendSerial: method(z.tuple([vmRef, z.string().min(1).max(MAX_TEXT)])),
  readSerial: method(z.tuple([vmRef])),
  followSerial: job(z.tuple([vmRef, z.object({ history: z.boolean() })])),
} satisfies Record<keyof VmService, MethodSpec>;
