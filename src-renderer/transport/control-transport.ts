// How the renderer reaches main-side services: the shared control transport (calls with
// progress and cancel, change events) plus what only a page needs — session, ISO import,
// disconnects and the desktop menu. Two transports: the Electron preload or the web console's
// WebSocket; nothing else in the UI knows which it has.
import type { ControlTransport as SharedControlTransport } from '../../src-shared/contracts/control';
import type { IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import type { VmMenuAction } from '../../src-shared/contracts/menu';

export interface IsoImportOptions {
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export type SessionState = 'authenticated' | 'login-required';

export interface ControlTransport extends SharedControlTransport {
  readonly kind: 'electron' | 'web';
  /** Whether the user must log in first (web console) or is in (desktop). */
  session(): Promise<SessionState>;
  login(credentials: { password?: string; token?: string }): Promise<void>;
  logout(): Promise<void>;
  /**
   * Makes an ISO the user dropped or picked usable by main and detects what it is: the web
   * console uploads it (into $MARU_HOME/isos, with progress, cancellable); the desktop passes
   * the file's own path.
   */
  importIso(file: File, options?: IsoImportOptions): Promise<IsoUploadResult>;
  /**
   * Desktop only: the host path of a file the user picked (a disk image used where it lies).
   * The web console has none: its paths are on the server, typed or browsed there.
   */
  pathOfFile?(file: File): string;
  /** Called when an open connection is lost or the session ended elsewhere (logout, expiry). */
  onDisconnect(listener: (reason: string) => void): () => void;
  /** The desktop's Machine menu: the action the user chose (absent in the web console). */
  onMenuAction?(listener: (action: VmMenuAction) => void): () => void;
}
