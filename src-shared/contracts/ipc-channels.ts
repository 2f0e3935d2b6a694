// The desktop bridge: the Electron IPC channel names main and the preload agree on, and the
// API the preload exposes to the page (`window.maruDesktop`) — the desktop's control transport.
// Control traffic uses the control-wire messages.
import type { ControlClientMessage, ControlServerMessage } from './control-wire';
import type { ControlTransport } from './control';
import type { IsoUploadResult } from './iso-upload';
import type { VmMenuAction } from './menu';

export const IPC_CHANNELS = {
  /** invoke: a control call (`call` message) → its `result` message. */
  control: 'maru:control',
  /** send: cancels a job call of this page by id (`cancel` message). */
  cancel: 'maru:control-cancel',
  /** main → page: `progress` and `event` messages. */
  controlMessage: 'maru:control-message',
  /** invoke: asks for a display port of a running VM. */
  openConsole: 'maru:open-console',
  /** main → page (postMessage): the MessagePort of a display viewer. */
  consolePort: 'maru:console-port',
  /** main → page: a Machine menu action. */
  menuAction: 'maru:menu-action',
  /** invoke: shows a medium the media manager lists in the system's file manager. */
  showInFolder: 'maru:show-in-folder',
} as const;

export type ControlCallMessage = Extract<ControlClientMessage, { type: 'call' }>;
export type ControlResultMessage = Extract<ControlServerMessage, { type: 'result' }>;
/** What main pushes to the page outside a call's result: job progress and change events. */
export type ControlPushMessage = Exclude<ControlServerMessage, { type: 'result' }>;

/**
 * What the preload exposes to the page as `window.maruDesktop`: the desktop's control
 * transport itself (calls with progress and cancel, change events), plus what only a page
 * needs — session (always signed in), a dropped ISO used where it lies, display ports and the
 * Machine menu. A failed call rejects with the plain wire error `{ code, message, details? }`
 * (the context bridge would drop an AppError's code); `createControlClient` revives it.
 */
export interface DesktopBridge extends ControlTransport {
  readonly kind: 'electron';
  session(): Promise<'authenticated'>;
  login(): Promise<void>;
  logout(): Promise<void>;
  /** Detects the ISO at the host path of a File the user dropped or picked (typed loosely: src-shared has no DOM types). */
  importIso(file: object): Promise<IsoUploadResult>;
  /** The host path of a File the user picked (a disk image used where it lies); '' when it has none. */
  pathOfFile(file: object): string;
  /** IPC to main does not drop: the page and main live and end together. */
  onDisconnect(listener: (reason: string) => void): () => void;
  /** Actions of the Machine menu. */
  onMenuAction(listener: (action: VmMenuAction) => void): () => void;
  /** Asks main for a display port; it arrives as a window message `{ type: 'maru-console-port', vmId }`. */
  openConsole(vmId: string): Promise<void>;
  /** Opens the file manager at a medium the media manager lists (anything else is refused). */
  showInFolder(path: string): Promise<void>;
}
