// Preload (sandboxed, CommonJS bundle): exposes one function per concern to the page and
// never `ipcRenderer` itself.
import { contextBridge, ipcRenderer } from 'electron';
import { CONTROL_CHANNEL } from '../../src-shared/contracts/ipc-channels';

const api = {
  transport: 'electron' as const,
  control(service: string, method: string, args: unknown[]): Promise<unknown> {
    if (typeof service !== 'string' || typeof method !== 'string' || !Array.isArray(args)) {
      return Promise.reject(new TypeError('maru.control(service, method, args[])'));
    }
    return ipcRenderer.invoke(CONTROL_CHANNEL, { service, method, args });
  },
};

contextBridge.exposeInMainWorld('maruDesktop', api);
