// The web console's ISO upload route: an HTTP stream, not a control call (see
// src-main/server/iso-upload.ts). Kept free of zod so the renderer bundle stays small.
import type { IsoDetection } from './media';

/** What a finished upload answers (`POST /api/isos/upload?name=…`). */
export interface IsoUploadResult {
  readonly path: string;
  readonly detection: IsoDetection;
}

/** Largest upload the web console accepts by default (a Windows 11 ISO is ~6 GiB). */
export const DEFAULT_MAX_ISO_UPLOAD_BYTES = 16 * 1024 * 1024 * 1024;

/** The upload route (relative to the web console's base URL); the file name travels in `?name=`. */
export const ISO_UPLOAD_ROUTE = 'api/isos/upload';
