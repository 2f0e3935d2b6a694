// The desktop's two ends of the one road. In: control calls from our own page (sender frame
// and message shape checked here, arguments by the contract) go to the same services as the
// web console with the local user's policy; job progress goes back to the calling page,
// cancel aborts a job, and the services' change events reach every window — control-wire
// messages. Out: every VM started from this app runs its engine host in an Electron utility
// process (owned by the app, its output in the VM's engine-host.log); the spawner also knows
// which VMs run here (the close dialog) and hands their display ports to them.
import {
  BrowserWindow,
  ipcMain,
  utilityProcess,
  type MessagePortMain,
  type UtilityProcess,
  type WebContents,
} from 'electron';
import { createWriteStream } from 'node:fs';
import { LOCAL_USER_POLICY } from '../../src-shared/contracts/access';
import {
  dispatchControl,
  isJobMethod,
  type ControlEventSource,
  type ControlServices,
} from '../../src-shared/contracts/control';
import type { ControlServerMessage } from '../../src-shared/contracts/control-wire';
import {
  IPC_CHANNELS,
  type ControlCallMessage,
  type ControlPushMessage,
  type ControlResultMessage,
} from '../../src-shared/contracts/ipc-channels';
import { AppError, toWireError, type WireResult } from '../../src-shared/errors';
import { isAppFrame } from './app-protocol';
import type {
  EngineHostLaunch,
  EngineHostSpawner,
  SpawnedEngineHost,
} from '../services/vm-runtime/engine-host-spawner';

function isCallMessage(m: unknown): m is ControlCallMessage {
  const o = m as Partial<ControlCallMessage> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    o.type === 'call' &&
    Number.isSafeInteger(o.id) &&
    typeof o.service === 'string' &&
    typeof o.method === 'string' &&
    Array.isArray(o.args) &&
    (o.job === undefined || typeof o.job === 'boolean')
  );
}

function push(contents: WebContents, message: ControlPushMessage): void {
  if (!contents.isDestroyed()) contents.send(IPC_CHANNELS.controlMessage, message satisfies ControlServerMessage);
}

/** Installs the control and cancel channels; returns what removes them. */
export function installControlIpc(services: ControlServices, events: ControlEventSource): () => void {
  /** Running jobs per page (webContents id → call id → its controller). */
  const jobs = new Map<number, Map<number, AbortController>>();

  const jobsOf = (contents: WebContents): Map<number, AbortController> => {
    let mine = jobs.get(contents.id);
    if (!mine) {
      const created = new Map<number, AbortController>();
      jobs.set(contents.id, created);
      // Nobody waits for a closed page's jobs (a serial follow would run forever).
      contents.once('destroyed', () => {
        for (const c of created.values()) c.abort();
        jobs.delete(contents.id);
      });
      mine = created;
    }
    return mine;
  };

  ipcMain.handle(IPC_CHANNELS.control, async (event, message: unknown): Promise<ControlResultMessage> => {
    if (!isAppFrame(event.senderFrame)) {
      console.warn(`maru: control call from a foreign frame refused (${event.senderFrame?.url ?? 'no frame'})`);
      throw new Error('Control calls are accepted from the Maru page only.');
    }
    if (!isCallMessage(message)) {
      const bad = new AppError(
        'INVALID_ARGUMENT',
        'A control call must be {type:"call", id, service, method, args[]}.',
      );
      return { type: 'result', id: -1, result: toWireError(bad) };
    }
    const { id, service, method, args } = message;
    const contents = event.sender;
    let controller: AbortController | null = null;
    if (isJobMethod(service, method)) {
      controller = new AbortController();
      jobsOf(contents).set(id, controller);
    }
    let result: WireResult<unknown>;
    try {
      const value = await dispatchControl(
        services,
        { service, method, args },
        {
          policy: LOCAL_USER_POLICY,
          ...(controller
            ? {
                job: {
                  signal: controller.signal,
                  onProgress: (p) =>
                    push(contents, {
                      type: 'progress',
                      id,
                      phase: p.phase,
                      fraction: p.fraction,
                      ...(p.data !== undefined ? { data: p.data } : {}),
                    }),
                },
              }
            : {}),
        },
      );
      result = { ok: true, value };
    } catch (err) {
      result = toWireError(err);
    } finally {
      if (controller) jobs.get(contents.id)?.delete(id);
    }
    return { type: 'result', id, result };
  });

  const onCancel = (event: Electron.IpcMainEvent, id: unknown): void => {
    if (!isAppFrame(event.senderFrame)) {
      console.warn(`maru: cancel from a foreign frame refused (${event.senderFrame?.url ?? 'no frame'})`);
      return;
    }
    if (typeof id === 'number') jobs.get(event.sender.id)?.get(id)?.abort();
  };
  ipcMain.on(IPC_CHANNELS.cancel, onCancel);

  const unsubscribe = events.onEvent((event) => {
    for (const win of BrowserWindow.getAllWindows()) push(win.webContents, { type: 'event', event });
  });

  return () => {
    ipcMain.removeHandler(IPC_CHANNELS.control);
    ipcMain.removeListener(IPC_CHANNELS.cancel, onCancel);
    unsubscribe();
    for (const mine of jobs.values()) for (const c of mine.values()) c.abort();
  };
}

export class UtilityProcessSpawner implements EngineHostSpawner {
  private readonly children = new Map<string, UtilityProcess>();

  /** `onDidExit` runs after an engine host of this app ended (whatever the reason). */
  constructor(private readonly onDidExit: (vmId: string) => void = () => undefined) {}

  spawn(launch: EngineHostLaunch): SpawnedEngineHost {
    const child = utilityProcess.fork(launch.engineHostPath, ['--launch', launch.launchFile], {
      serviceName: `Maru VM ${launch.vmName}`,
      stdio: 'pipe',
      env: launch.env,
    });
    pipeToLog(child, launch.logFile);
    this.children.set(launch.vmId, child);
    child.once('exit', () => {
      if (this.children.get(launch.vmId) === child) this.children.delete(launch.vmId);
      this.onDidExit(launch.vmId);
    });
    return {
      onMessage: (listener) => void child.on('message', listener),
      onExit: (listener) => void child.on('exit', (code) => listener(code, null)),
      onError: (listener) =>
        void child.on('error', (type, location) => listener(new Error(`${type} in the engine host (${location})`))),
      kill: () => void child.kill(),
      // A utility process stays owned by the app: nothing to let go.
      release: () => undefined,
    };
  }

  /** VMs whose engine host runs in this app (they end when the app quits). */
  runningHere(): string[] {
    return [...this.children.keys()];
  }

  /** Hands `port` to the VM's own engine host, which pipes it to the RFB endpoint; false when it does not run here. */
  postConsolePort(vmId: string, port: MessagePortMain): boolean {
    const child = this.children.get(vmId);
    if (!child) return false;
    child.postMessage({ type: 'console' }, [port]);
    return true;
  }

  /** Ends every engine host of this app (each stops its VM first). */
  dispose(): void {
    for (const child of this.children.values()) child.kill();
  }
}

/** Appends the engine host's stdout and stderr to its log file, closed once both streams end. */
function pipeToLog(child: UtilityProcess, logFile: string): void {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  if (streams.length === 0) return;
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  log.on('error', (err) => console.error(`maru: cannot write the engine host log ${logFile}: ${err.message}`));
  let open = streams.length;
  for (const s of streams) {
    s.pipe(log, { end: false });
    s.once('end', () => {
      if (--open === 0) log.end();
    });
  }
}
