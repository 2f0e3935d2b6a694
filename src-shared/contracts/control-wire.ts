// Messages of the control protocol as they cross a socket or an IPC channel (the web
// console's control WebSocket and Electron's IPC speak the same messages).
import type { WireResult } from '../errors';
import type { ControlEvent } from './control';

export type ControlClientMessage =
  | { type: 'call'; id: number; service: string; method: string; args: unknown[]; job?: boolean }
  | { type: 'cancel'; id: number };

export type ControlServerMessage =
  | { type: 'result'; id: number; result: WireResult<unknown> }
  | { type: 'progress'; id: number; phase: string; fraction: number; data?: string }
  | { type: 'event'; event: ControlEvent };
