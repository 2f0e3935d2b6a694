// Engine hosts on the desktop: every VM started from this app runs its engine host in an
// Electron utility process (owned by the app, its output in the VM's engine-host.log). Also
// knows which VMs run here (the close dialog) and hands their display ports to them.
import { utilityProcess, type MessagePortMain, type UtilityProcess } from 'electron';
import { createWriteStream } from 'node:fs';
import type {
  EngineHostLaunch,
  EngineHostSpawner,
  SpawnedEngineHost,
} from '../services/vm-runtime/engine-host-spawner';

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
