// Types for the part of @novnc/novnc (an untyped ES module) the display view uses.
declare module '@novnc/novnc' {
  export interface RfbChannel {
    send(data: ArrayBuffer | Uint8Array): void;
    close(): void;
    binaryType: string;
    protocol: string;
    readyState: number | string;
    onopen: ((e?: unknown) => void) | null;
    onmessage: ((e: { data: ArrayBuffer }) => void) | null;
    onclose: ((e: { code?: number; reason?: string; wasClean?: boolean }) => void) | null;
    onerror: ((e?: unknown) => void) | null;
  }

  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket | RfbChannel, options?: { shared?: boolean });
    scaleViewport: boolean;
    clipViewport: boolean;
    resizeSession: boolean;
    focusOnClick: boolean;
    viewOnly: boolean;
    background: string;
    qualityLevel: number;
    compressionLevel: number;
    disconnect(): void;
    focus(options?: FocusOptions): void;
    blur(): void;
    sendCtrlAltDel(): void;
    sendKey(keysym: number, code: string | null, down?: boolean): void;
    toDataURL(type?: string, quality?: number): string;
    toBlob(callback: (blob: Blob | null) => void, type?: string, quality?: number): void;
  }
}
