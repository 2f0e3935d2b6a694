// The engine host's line to whoever started it: Electron's `process.parentPort` when forked
// as a utility process, Node's IPC channel when spawned headless by the launcher, or none.
// Only the start result travels here; everything else goes through the control endpoint.
import type { EngineHostParentMessage } from '../../src-shared/contracts/engine';

/** The part of Electron's parentPort the engine host uses (typed here: no electron import). */
interface ParentPortLike {
  postMessage(message: unknown): void;
}

export interface ParentChannel {
  readonly kind: 'electron' | 'node-ipc' | 'none';
  post(message: EngineHostParentMessage): void;
  /** Lets the parent go (Node IPC keeps both processes tied until disconnected). */
  release(): void;
}

/** Finds the channel this process has. */
export function parentChannel(): ParentChannel {
  const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (port && typeof port.postMessage === 'function') {
    return { kind: 'electron', post: (m) => port.postMessage(m), release: () => undefined };
  }
  if (typeof process.send === 'function') {
    return {
      kind: 'node-ipc',
      post: (m) => {
        if (!process.connected) return;
        process.send?.(m, undefined, {}, (err: Error | null) => {
          // The launcher may have gone (Ctrl+C) before reading the result: nothing to do.
          if (err) process.stderr.write(`engine host: could not report to the launcher: ${err.message}\n`);
        });
      },
      release: () => {
        if (process.connected) process.disconnect();
      },
    };
  }
  return { kind: 'none', post: () => undefined, release: () => undefined };
}
