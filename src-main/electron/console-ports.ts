// Display viewers on the desktop: the page asks for a running VM's display and gets one end
// of a MessageChannelMain carrying its RFB bytes. The other end goes to the VM's own utility
// process (frames never pass through main) or, for a VM running elsewhere, is bridged here.
import { ipcMain, MessageChannelMain } from 'electron';
import { IPC_CHANNELS } from '../../src-shared/contracts/ipc-channels';
import type { ControlServices } from '../../src-shared/contracts/control';
import { AppError, toWireError, type WireResult } from '../../src-shared/errors';
import { isUuid } from '../../src-shared/ids';
import { bridgeConsolePort } from '../../src-emulator/engine-host/console-port-bridge';
import { isAppFrame } from './app-protocol';
import type { UtilityProcessSpawner } from './desktop-road';

export function installConsolePorts(services: ControlServices, spawner: UtilityProcessSpawner): () => void {
  ipcMain.handle(IPC_CHANNELS.openConsole, async (event, vmId: unknown): Promise<WireResult<null>> => {
    if (!isAppFrame(event.senderFrame)) {
      console.warn(`maru: display request from a foreign frame refused (${event.senderFrame?.url ?? 'no frame'})`);
      throw new Error('Display requests are accepted from the Maru page only.');
    }
    try {
      if (typeof vmId !== 'string' || !isUuid(vmId)) throw new AppError('INVALID_ARGUMENT', 'vmId must be a VM uuid.');
      const { port1, port2 } = new MessageChannelMain();
      if (!spawner.postConsolePort(vmId, port1)) {
        const status = await services.vm.status(vmId);
        if (!status?.display) {
          port1.close();
          throw new AppError('NOT_FOUND', 'This VM is not running or has no display.');
        }
        bridgeConsolePort(port1, status.display);
      }
      event.sender.postMessage(IPC_CHANNELS.consolePort, { vmId }, [port2]);
      return { ok: true, value: null };
    } catch (err) {
      return toWireError(err);
    }
  });
  return () => ipcMain.removeHandler(IPC_CHANNELS.openConsole);
}
