// Picks the transport: the Electron preload's API when present, else the web console.
import type { ControlTransport } from './control-transport';
import { ElectronTransport, type MaruDesktopApi } from './electron-transport';
import { WebTransport } from './web-transport';

export function detectTransport(): ControlTransport {
  const api = (window as unknown as { maruDesktop?: MaruDesktopApi }).maruDesktop;
  return api?.transport === 'electron' ? new ElectronTransport(api) : new WebTransport();
}
