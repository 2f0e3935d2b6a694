// Makes an Electron MessagePort (handed to the page by the preload) look like the
// WebSocket-shaped channel noVNC accepts. Messages are ArrayBuffers of RFB bytes.
import type { RfbChannel } from '@novnc/novnc';

export class MessagePortChannel implements RfbChannel {
  binaryType = 'arraybuffer';
  protocol = '';
  readyState: number = WebSocket.CONNECTING;
  onopen: RfbChannel['onopen'] = null;
  onmessage: RfbChannel['onmessage'] = null;
  onclose: RfbChannel['onclose'] = null;
  onerror: RfbChannel['onerror'] = null;

  constructor(private readonly port: MessagePort) {
    port.onmessage = (e: MessageEvent) => {
      const d = e.data as ArrayBuffer | { type: 'close'; reason: string } | { type: 'open' };
      if (d instanceof ArrayBuffer) this.onmessage?.({ data: d });
      else if (d?.type === 'open') {
        this.readyState = WebSocket.OPEN;
        this.onopen?.();
      } else if (d?.type === 'close') this.finish(1000, d.reason);
    };
    port.start();
  }

  send(data: ArrayBuffer | Uint8Array): void {
    if (this.readyState !== WebSocket.OPEN) return;
    const buf = data instanceof Uint8Array ? data.slice().buffer : data;
    this.port.postMessage(buf);
  }

  close(): void {
    if (this.readyState === WebSocket.CLOSED) return;
    this.port.postMessage({ type: 'close' });
    this.finish(1000, 'closed by viewer');
  }

  private finish(code: number, reason: string): void {
    this.readyState = WebSocket.CLOSED;
    this.port.close();
    this.onclose?.({ code, reason, wasClean: true });
  }
}
