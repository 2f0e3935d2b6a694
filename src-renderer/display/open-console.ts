// Opens the RFB byte channel to a running VM's engine: a WebSocket (with a single-use
// ticket) in the web console, a MessagePort from the preload on the desktop.
import type { RfbChannel } from '@novnc/novnc';
import type { ControlTransport } from '../transport/control-transport';
import { WebTransport } from '../transport/web-transport';
import { MessagePortChannel } from './message-port-channel';

interface DesktopConsoleApi {
  openConsole(vmId: string): Promise<void>;
}

function desktopApi(): DesktopConsoleApi | undefined {
  return (window as unknown as { maruDesktop?: DesktopConsoleApi }).maruDesktop;
}

export async function openConsoleChannel(transport: ControlTransport, vmId: string): Promise<WebSocket | RfbChannel> {
  if (transport instanceof WebTransport) {
    const ticket = await transport.consoleTicket(vmId);
    const ws = new WebSocket(transport.consoleUrl(vmId, ticket));
    ws.binaryType = 'arraybuffer';
    return ws;
  }
  const api = desktopApi();
  if (!api) throw new Error('No console transport available.');
  // The preload re-posts the MessagePort main created into the page (window message).
  const port = new Promise<MessagePort>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('The VM display did not answer.')), 10_000);
    const onMessage = (e: MessageEvent) => {
      const d = e.data as { type?: string; vmId?: string };
      if (e.source === window && d?.type === 'maru-console-port' && d.vmId === vmId && e.ports[0]) {
        clearTimeout(timer);
        window.removeEventListener('message', onMessage);
        resolve(e.ports[0]);
      }
    };
    window.addEventListener('message', onMessage);
  });
  await api.openConsole(vmId);
  return new MessagePortChannel(await port);
}
