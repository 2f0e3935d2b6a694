// Preload (sandboxed, CommonJS bundle): exposes `window.maruDesktop` (DesktopBridge), the
// desktop's control transport itself — control-wire calls over IPC (a job's marked `job: true`,
// its progress routed to its `onProgress`, `cancel` sent when its signal aborts), the services'
// change events, display ports, a dropped file's path and the Machine menu's actions — and
// never ipcRenderer itself. Only plain data and functions cross the context bridge, so a failed
// call rejects with the wire error object (the page's control client makes it an AppError).
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { ControlEvent, ServiceName } from '../../src-shared/contracts/control';
import {
  IPC_CHANNELS,
  type ControlPushMessage,
  type ControlResultMessage,
  type DesktopBridge,
} from '../../src-shared/contracts/ipc-channels';
import type { IsoDetection } from '../../src-shared/contracts/media';
import type { JobOptions } from '../../src-shared/contracts/jobs';
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

let nextId = 1;
/** This page's running job calls, by call id (their progress goes to `onProgress`). */
const jobs = new Map<number, JobOptions>();
const eventListeners = new Set<(event: ControlEvent) => void>();
subscribe(IPC_CHANNELS.controlMessage, isPushMessage, (message) => {
  if (message.type === 'event') {
    for (const l of eventListeners) l(message.event);
  } else {
    const { phase, fraction, data } = message;
    jobs.get(message.id)?.onProgress?.({ phase, fraction, ...(data !== undefined ? { data } : {}) });
  }
});

/** One control call; resolves with its value, rejects with its wire error (plain data). */
async function call(
  service: ServiceName,
  method: string,
  args: readonly unknown[],
  job?: JobOptions,
): Promise<unknown> {
  if (job?.signal?.aborted) {
    throw { code: 'CANCELLED', message: `${service}.${method} was cancelled before it started.` };
  }
  const id = nextId++;
  const cancel = (): void => ipcRenderer.send(IPC_CHANNELS.cancel, id);
  if (job) {
    jobs.set(id, job);
    job.signal?.addEventListener('abort', cancel, { once: true });
  }
  try {
    const reply = (await ipcRenderer.invoke(IPC_CHANNELS.control, {
      type: 'call',
      id,
      service,
      method,
      args: Array.isArray(args) ? [...args] : args,
      ...(job ? { job: true } : {}),
    })) as ControlResultMessage;
    const result: WireResult<unknown> = reply.result;
    if (result.ok) return result.value;
    throw result.error;
  } finally {
    jobs.delete(id);
    job?.signal?.removeEventListener('abort', cancel);
  }
}

const bridge: DesktopBridge = {
  kind: 'electron',
  session: async () => 'authenticated',
  login: async () => undefined,
  logout: async () => undefined,
  call,
  // The desktop uses a dropped ISO where it lies: its host path, detected by main.
  async importIso(file) {
    const detection = (await call('media', 'detectIso', [webUtils.getPathForFile(file as File)])) as IsoDetection;
    return { path: detection.path, detection };
  },
  pathOfFile: (file) => webUtils.getPathForFile(file as File),
  onEvent(listener) {
    eventListeners.add(listener);
    return () => void eventListeners.delete(listener);
  },
  onDisconnect: () => () => undefined,
  onMenuAction: (listener) => subscribe(IPC_CHANNELS.menuAction, isVmMenuAction, listener),
  async openConsole(vmId) {
    if (typeof vmId !== 'string') throw new TypeError('maruDesktop.openConsole(vmId)');
    const r = (await ipcRenderer.invoke(IPC_CHANNELS.openConsole, vmId)) as WireResult<null>;
    if (!r.ok) throw new Error(r.error.message);
  },
  async showInFolder(file) {
    if (typeof file !== 'string') throw new TypeError('maruDesktop.showInFolder(path)');
    const r = (await ipcRenderer.invoke(IPC_CHANNELS.showInFolder, file)) as WireResult<null>;
    if (!r.ok) throw r.error;
  },
};

contextBridge.exposeInMainWorld('maruDesktop', bridge);
