// The desktop bridge: the Electron IPC channel names main and the preload agree on, and the
// API the preload exposes to the page (`window.maruDesktop`), which the renderer's Electron
// transport is written against. Control traffic uses the control-wire messages.
import type { ControlClientMessage, ControlServerMessage } from './control-wire';
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
} as const;

export type ControlCallMessage = Extract<ControlClientMessage, { type: 'call' }>;
export type ControlResultMessage = Extract<ControlServerMessage, { type: 'result' }>;
/** What main pushes to the page outside a call's result: job progress and change events. */
export type ControlPushMessage = Exclude<ControlServerMessage, { type: 'result' }>;

/** What the preload exposes to the page as `window.maruDesktop` (one function per concern). */
export interface DesktopBridge {
  readonly transport: 'electron';
  /** Sends a control call; resolves with its result message (errors travel inside it). */
  control(message: ControlCallMessage): Promise<ControlResultMessage>;
  /** Cancels a job call this page made (no-op for finished or unknown ids). */
  cancel(id: number): void;
  /** Progress of this page's job calls and the services' change events. */
  onControlMessage(listener: (message: ControlPushMessage) => void): () => void;
  /** Asks main for a display port; it arrives as a window message `{ type: 'maru-console-port', vmId }`. */
  openConsole(vmId: string): Promise<void>;
  /** The host path of a File the user dropped or picked (typed loosely: src-shared has no DOM types). */
  pathForFile(file: object): string;
  /** Actions of the Machine menu. */
  onMenuAction(listener: (action: VmMenuAction) => void): () => void;
}
