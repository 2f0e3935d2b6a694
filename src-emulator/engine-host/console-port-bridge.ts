// Desktop viewers: Electron main hands the engine host (a utility process) one end of a
// MessageChannel per viewer; this pipes it to the engine's RFB endpoint, with the same
// message shapes as main's bridge (ArrayBuffer = RFB bytes; {type:'open'|'close'}).
import net from 'node:net';

/** The part of Electron's MessagePortMain used here (no electron import in src-emulator). */
export interface MessagePortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  on(event: 'close', listener: () => void): void;
  start(): void;
  close(): void;
}

const MAX_PENDING_BYTES = 8 * 1024 * 1024;

export function bridgeConsolePort(port: MessagePortLike, rfbSocketPath: string): void {
  const socket = net.connect(rfbSocketPath);
  let pending = 0;
  socket.on('connect', () => port.postMessage({ type: 'open' }));
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.length;
    port.postMessage(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length));
    if (pending > MAX_PENDING_BYTES) socket.pause();
    setImmediate(() => {
      pending -= chunk.length;
      if (pending <= MAX_PENDING_BYTES / 2) socket.resume();
    });
  });
  socket.on('close', () => {
    port.postMessage({ type: 'close', reason: 'VM display closed' });
    port.close();
  });
  socket.on('error', () => socket.destroy());
  port.on('message', (e) => {
    const d = e.data as ArrayBuffer | { type?: string };
    if (d instanceof ArrayBuffer) socket.write(Buffer.from(d));
    else if (d?.type === 'close') socket.end();
  });
  port.on('close', () => socket.destroy());
  port.start();
}

/**
 * Listens on Electron's `process.parentPort` (when this engine host is a utility process)
 * for console ports. `display()` gives the current RFB endpoint.
 */
export function listenForConsolePorts(display: () => string | null): void {
  const parent = (
    process as unknown as {
      parentPort?: { on(event: 'message', l: (e: { data: unknown; ports: MessagePortLike[] }) => void): void };
    }
  ).parentPort;
  if (!parent) return;
  parent.on('message', (e) => {
    const d = e.data as { type?: string };
    const port = e.ports[0];
    if (d?.type !== 'console' || !port) return;
    const endpoint = display();
    if (!endpoint) {
      port.postMessage({ type: 'close', reason: 'This VM has no display.' });
      port.close();
      return;
    }
    bridgeConsolePort(port, endpoint);
  });
}
