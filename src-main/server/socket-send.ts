// Sending on a web console socket without unbounded buffering: a peer that stopped reading
// is dropped once its queue passes the bound, instead of growing server memory.
import type { WebSocket } from 'ws';

/** Sends unless the peer has stopped reading; then terminates it and returns false. */
export function sendBounded(
  ws: WebSocket,
  data: string | Buffer,
  maxBufferedBytes: number,
  onDrop: () => void,
): boolean {
  if (ws.readyState !== ws.OPEN) return false;
  if (ws.bufferedAmount + data.length > maxBufferedBytes) {
    onDrop();
    ws.terminate();
    return false;
  }
  ws.send(data);
  return true;
}
