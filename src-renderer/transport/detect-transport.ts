// Picks the transport: the Electron preload's (`window.maruDesktop` is the desktop transport
// itself) when present, else the web console's.
import type { ControlTransport } from './control-transport';
import type { DesktopBridge } from '../../src-shared/contracts/ipc-channels';
import { WebTransport } from './web-transport';

export function detectTransport(): ControlTransport {
  const desktop = (window as unknown as { maruDesktop?: DesktopBridge }).maruDesktop;
  return desktop?.kind === 'electron' ? desktop : new WebTransport();
}
