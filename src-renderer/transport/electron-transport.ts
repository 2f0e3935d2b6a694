// The desktop transport: the preload's `window.maruDesktop.control` (an ipcRenderer.invoke
// underneath); the desktop user is always "logged in".
import { fromWire, type WireResult } from '../../src-shared/errors';
import type { CallOptions, ControlTransport, SessionState } from './control-transport';

export interface MaruDesktopApi {
  readonly transport: 'electron';
  control(service: string, method: string, args: unknown[]): Promise<WireResult<unknown>>;
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
  onEvent(): () => void {
    return () => undefined;
  }
  onDisconnect(): () => void {
    return () => undefined;
  }
}
