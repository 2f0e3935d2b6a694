// Preload (sandboxed, CommonJS bundle): exposes `window.maruDesktop` (DesktopBridge) — one
// function per concern: control calls and cancel, pushed control messages, display ports,
// dropped-file paths, menu actions — and never ipcRenderer itself.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import {
  IPC_CHANNELS,
  type ControlPushMessage,
  type ControlResultMessage,
  type DesktopBridge,
} from '../../src-shared/contracts/ipc-channels';
import { isVmMenuAction } from '../../src-shared/contracts/menu';
import type { WireResult } from '../../src-shared/errors';

// Main posts a MessagePort per display viewer; hand it to the page (ports cannot cross
// contextBridge, window.postMessage can carry them).
ipcRenderer.on(IPC_CHANNELS.consolePort, (event, msg: { vmId?: unknown } | null) => {
  if (typeof msg?.vmId !== 'string' || event.ports.length !== 1) return;
  window.postMessage({ type: 'maru-console-port', vmId: msg.vmId }, window.location.origin, event.ports);
});

function isPushMessage(m: unknown): m is ControlPushMessage {
  const type = (m as { type?: unknown } | null)?.type;
  return type === 'progress' || type === 'event';
}

/** Listens on `channel` for values `accept` lets through; returns the unsubscribe. */
function subscribe<T>(channel: string, accept: (v: unknown) => v is T, listener: (v: T) => void): () => void {
  const l = (_e: IpcRendererEvent, value: unknown): void => {
    if (accept(value)) listener(value);
  };
  ipcRenderer.on(channel, l);
  return () => void ipcRenderer.removeListener(channel, l);
}

const bridge = {
  transport: 'electron' as const,
  control(message): Promise<ControlResultMessage> {
    if (message?.type !== 'call') return Promise.reject(new TypeError('maruDesktop.control({ type: "call", … })'));
    return ipcRenderer.invoke(IPC_CHANNELS.control, message) as Promise<ControlResultMessage>;
  },
  cancel(id) {
    if (Number.isSafeInteger(id)) ipcRenderer.send(IPC_CHANNELS.cancel, id);
  },
  onControlMessage(listener) {
    return subscribe(IPC_CHANNELS.controlMessage, isPushMessage, listener);
  },
  async openConsole(vmId) {
    if (typeof vmId !== 'string') throw new TypeError('maruDesktop.openConsole(vmId)');
    const r = (await ipcRenderer.invoke(IPC_CHANNELS.openConsole, vmId)) as WireResult<null>;
    if (!r.ok) throw new Error(r.error.message);
  },
  pathForFile(file: File) {
    return webUtils.getPathForFile(file);
  },
  onMenuAction(listener) {
    return subscribe(IPC_CHANNELS.menuAction, isVmMenuAction, listener);
  },
} satisfies DesktopBridge;

contextBridge.exposeInMainWorld('maruDesktop', bridge);
