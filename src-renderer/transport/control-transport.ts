// How the renderer reaches main-side services: one interface, two transports (Electron
// preload or the web console's WebSocket). Nothing else in the UI knows which it has.
import type { JobProgress } from '../../src-shared/contracts/library';
import type { IsoUploadResult } from '../../src-shared/contracts/iso-upload';

export interface CallOptions {
  onProgress?: (p: JobProgress) => void;
  signal?: AbortSignal;
}

export interface IsoImportOptions {
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export type SessionState = 'authenticated' | 'login-required';

export interface ControlTransport {
  readonly kind: 'electron' | 'web';
  /** Whether the user must log in first (web console) or is in (desktop). */
  session(): Promise<SessionState>;
  login(credentials: { password?: string; token?: string }): Promise<void>;
  logout(): Promise<void>;
  call<T>(service: string, method: string, args: unknown[], options?: CallOptions): Promise<T>;
  /** Pushed events (`library.changed`, …); returns an unsubscribe function. */
  onEvent(listener: (event: string, payload: unknown) => void): () => void;
  /**
   * Makes an ISO the user dropped or picked usable by main and detects what it is: the web
   * console uploads it (into $MARU_HOME/isos, with progress, cancellable); the desktop passes
   * the file's own path.
   */
  importIso(file: File, options?: IsoImportOptions): Promise<IsoUploadResult>;
  /** Called when the connection is lost or the session ended (logout, expiry). */
  onDisconnect(listener: (reason: string) => void): () => void;
}
