// Picks the transport: the Electron preload's API when present, else the web console.
import type { ControlTransport } from './control-transport';
import type { DesktopBridge } from '../../src-shared/contracts/ipc-channels';
import { ElectronTransport } from './electron-transport';
import { WebTransport } from './web-transport';

export function detectTransport(): ControlTransport {
  const api = (window as unknown as { maruDesktop?: DesktopBridge }).maruDesktop;
  return api?.transport === 'electron' ? new ElectronTransport(api) : new WebTransport();
}
