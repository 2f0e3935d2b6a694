// The desktop transport: the preload's `window.maruDesktop.control` (an ipcRenderer.invoke
// underneath); the desktop user is always "logged in".
import { AppError, fromWire, type WireResult } from '../../src-shared/errors';
import type { IsoDetection } from '../../src-shared/contracts/media';
import type { IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import type { CallOptions, ControlTransport, SessionState } from './control-transport';

export interface MaruDesktopApi {
  readonly transport: 'electron';
  control(service: string, method: string, args: unknown[]): Promise<WireResult<unknown>>;
  /**
   * The host path of a dropped/picked File (the preload's `webUtils.getPathForFile`). Hook for
   * the preload: until it exists, dropping an ISO on the desktop says so.
   */
  pathForFile?(file: File): string;
}

export class ElectronTransport implements ControlTransport {
  readonly kind = 'electron' as const;
  constructor(private readonly api: MaruDesktopApi) {}
  async session(): Promise<SessionState> {
    return 'authenticated';
  }
  async login(): Promise<void> {}
  async logout(): Promise<void> {}
  async call<T>(service: string, method: string, args: unknown[], _options?: CallOptions): Promise<T> {
    return fromWire(await this.api.control(service, method, args)) as T;
  }
  async importIso(file: File): Promise<IsoUploadResult> {
    const path = this.api.pathForFile?.(file);
    if (!path) {
      throw new AppError('UNSUPPORTED', 'This desktop build cannot read the path of a dropped file yet.');
    }
    const detection = await this.call<IsoDetection>('media', 'detectIso', [path]);
    return { path: detection.path, detection };
  }
  onEvent(): () => void {
    return () => undefined;
  }
  onDisconnect(): () => void {
    return () => undefined;
  }
}
