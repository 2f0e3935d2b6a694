// "Show in folder" of the media manager on the desktop: main opens the system's file manager at
// a medium — only one the media manager lists (a VM's disk, ISO or floppy, or a file in Maru's
// folders), asked for by the Maru page; any other path is refused.
import { ipcMain, shell } from 'electron';
import path from 'node:path';
import { IPC_CHANNELS } from '../../src-shared/contracts/ipc-channels';
import type { ControlServices } from '../../src-shared/contracts/control';
import { AppError, toWireError, type WireResult } from '../../src-shared/errors';
import { isAppFrame } from './app-protocol';

export function installShowInFolder(services: ControlServices): () => void {
  ipcMain.handle(IPC_CHANNELS.showInFolder, async (event, file: unknown): Promise<WireResult<null>> => {
    if (!isAppFrame(event.senderFrame)) {
      console.warn(`maru: show-in-folder from a foreign frame refused (${event.senderFrame?.url ?? 'no frame'})`);
      throw new Error('Show in folder is accepted from the Maru page only.');
    }
    try {
      if (typeof file !== 'string' || file.length > 4096 || !path.isAbsolute(file)) {
        throw new AppError('INVALID_ARGUMENT', 'Show in folder needs the absolute path of a medium.');
      }
      const medium = (await services.media.list()).media.find((m) => m.path === file);
      if (!medium) throw new AppError('NOT_FOUND', `${file} is not a medium Maru knows; it is not shown.`);
      if (!medium.exists) throw new AppError('NOT_FOUND', `${file} is missing; there is no folder to show it in.`);
      shell.showItemInFolder(medium.path);
      return { ok: true, value: null };
    } catch (err) {
      return toWireError(err);
    }
  });
  return () => ipcMain.removeHandler(IPC_CHANNELS.showInFolder);
}
