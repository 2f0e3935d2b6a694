// VMs started from the desktop: one Electron utility process per VM running the same engine
// host entry the CLI spawns detached. Also hands each display viewer a MessagePort wired to
// the VM's RFB endpoint (in the VM's own utility process, or bridged here for a VM that
// runs headless and was started elsewhere).
import { MessageChannelMain, utilityProcess, type UtilityProcess, type WebContents } from 'electron';
import { AppError, type ErrorCode } from '../../src-shared/errors';
import type { EngineHostParentMessage, EngineStatus } from '../../src-shared/contracts/engine';
import { connectEngineHost, prepareVmLaunch, recoverAbandonedRun } from '../services/engine-launcher';
import { bridgeConsolePort } from '../../src-emulator/host/console-port-bridge';

/** Channel on which main hands a console MessagePort to the window (the preload re-posts it). */
export const CONSOLE_PORT_CHANNEL = 'maru:console-port';

export class DesktopEngines {
  private readonly children = new Map<string, UtilityProcess>();

  constructor(
    private readonly maruHome: string,
    private readonly onDidChange: () => void,
  ) {}

  /** Starts a VM in a utility process (it ends with the app) and waits until it runs. */
  async start(ref: string): Promise<EngineStatus> {
    const prepared = await prepareVmLaunch(this.maruHome, ref);
    const { vmId } = prepared.spec;
    const child = utilityProcess.fork(prepared.engineHostPath, ['--launch', prepared.launchFile], {
      serviceName: `Maru VM ${prepared.spec.config.name}`,
      stdio: 'pipe',
    });
    this.children.set(vmId, child);
    const result = new Promise<EngineStatus>((resolve, reject) => {
      child.on('message', (m: EngineHostParentMessage) => {
        if (m?.type !== 'maru-engine-host') return;
        if (m.event === 'ready') resolve(m.status);
        else reject(new AppError(m.error.code as ErrorCode, m.error.message));
      });
      child.once('exit', (code) => reject(new AppError('INTERNAL', `The engine host ended at start (exit ${code}).`)));
    });
    child.once('exit', (code) => {
      this.children.delete(vmId);
      // A dead engine host that did not clean up marks its VM aborted; the window survives.
      if (code !== 0) void recoverAbandonedRun(this.maruHome, vmId).catch(() => undefined);
      this.onDidChange();
    });
    const status = await result;
    this.onDidChange();
    return status;
  }

  runningHere(): string[] {
    return [...this.children.keys()];
  }

  /** Gives `contents` a MessagePort carrying the VM's RFB stream. */
  async openConsole(vmId: string, contents: WebContents): Promise<void> {
    const { port1, port2 } = new MessageChannelMain();
    const child = this.children.get(vmId);
    if (child) {
      // The VM's own utility process serves the port (frames never pass through main).
      child.postMessage({ type: 'console' }, [port1]);
    } else {
      const conn = await connectEngineHost(this.maruHome, vmId);
      let status: EngineStatus;
      try {
        status = await conn.client.status();
      } finally {
        conn.client.dispose();
      }
      if (!status.display) throw new AppError('UNSUPPORTED', 'This VM has no display.');
      bridgeConsolePort(port1, status.display);
    }
    contents.postMessage(CONSOLE_PORT_CHANNEL, { vmId }, [port2]);
  }

  dispose(): void {
    for (const child of this.children.values()) child.kill();
    this.children.clear();
  }
}
