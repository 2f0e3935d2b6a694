// The media control service: what an install ISO is (detected from its own bytes) and the
// server-side ISO picker (folders the operator allowed). Uploads are an HTTP route, not a call.
import * as z from 'zod';
import { hostPathArg } from './access';
import { method, type MethodSpec } from './method';
import type { PresetId } from '../os-presets';

/** Why the detector chose what it chose; `code` is stable (the UI translates it), `text` is English. */
export interface IsoReason {
  readonly code: IsoReasonCode;
  readonly text: string;
  /** Values the translated message interpolates (e.g. `{ file: 'sources/install.wim' }`). */
  readonly params: Readonly<Record<string, string>>;
}

export type IsoReasonCode =
  | 'windows-image-info'
  | 'windows-build-branch'
  | 'windows-label'
  | 'windows-installer'
  | 'windows-xp'
  | 'windows-9x'
  | 'dos'
  | 'linux-disk-info'
  | 'linux-layout'
  | 'arch'
  | 'boot-bios'
  | 'boot-uefi'
  | 'no-boot'
  | 'unknown';

export interface IsoDetection {
  readonly path: string;
  readonly sizeBytes: number;
  /** The label a person would recognise: UDF logical volume id, else Joliet, else ISO 9660. */
  readonly label: string | null;
  readonly labels: {
    readonly iso9660: string | null;
    readonly joliet: string | null;
    readonly udf: string | null;
  };
  /** File systems found on the medium. */
  readonly filesystems: readonly ('iso9660' | 'rock-ridge' | 'joliet' | 'udf')[];
  readonly preset: PresetId;
  readonly confidence: 'high' | 'medium' | 'low';
  /** A product name when the medium says it (e.g. "Windows 11 Pro", "Debian GNU/Linux 12.4.0"). */
  readonly osName: string | null;
  readonly reasons: readonly IsoReason[];
  /** El Torito boot entries: BIOS (platform 0x00) and UEFI (platform 0xEF). */
  readonly boot: { readonly bios: boolean; readonly uefi: boolean };
}

export interface IsoFolderEntry {
  readonly name: string;
  readonly path: string;
  readonly kind: 'folder' | 'iso';
  /** Bytes (files only). */
  readonly sizeBytes: number | null;
}

export interface IsoFolderListing {
  /** Folders the server lets a web console user pick from (`$MARU_HOME/isos` + MARU_ISO_FOLDERS). */
  readonly roots: readonly string[];
  /** The folder listed (one of the roots or inside one), or null when only the roots are shown. */
  readonly folder: string | null;
  /** The folder one level up, when still inside a root. */
  readonly parent: string | null;
  readonly entries: readonly IsoFolderEntry[];
}

export interface MediaService {
  /** Reads an ISO's volume descriptors and well-known files; never modifies it. */
  detectIso(path: string): Promise<IsoDetection>;
  /** Lists ISO files and sub-folders of an allowed folder (null: the allowed roots themselves). */
  listIsoFolder(folder: string | null): Promise<IsoFolderListing>;
}

export const mediaMethods = {
  detectIso: method(z.tuple([hostPathArg('media')])),
  listIsoFolder: method(z.tuple([hostPathArg('folder').nullable()])),
} satisfies Record<keyof MediaService, MethodSpec>;
