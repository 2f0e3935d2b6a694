// UI slice: which page and dialog are open, notices, and dropping / picking an ISO (checked,
// uploaded or resolved by the transport, detected) which opens the wizard prefilled.
import type { StateCreator } from 'zustand';
import type { IsoDetection } from '../../src-shared/contracts/media';
import type { IsoUploadResult } from '../../src-shared/contracts/iso-upload';
import { precheckFile } from '../media/iso-precheck';
import type { AppState } from './app-store';
import { isCancelled, messageOf } from './store-errors';

export interface WizardPrefill {
  readonly iso: string;
  readonly detection: IsoDetection | null;
}

export type DialogState =
  | { readonly kind: 'wizard'; readonly prefill: WizardPrefill | null }
  | { readonly kind: 'settings'; readonly vmId: string }
  | { readonly kind: 'delete'; readonly vmId: string }
  | { readonly kind: 'clone'; readonly vmId: string }
  | { readonly kind: 'importDisk' }
  /** The media manager: every disk, ISO and floppy image, who uses it, release and remove. */
  | { readonly kind: 'media' }
  | { readonly kind: 'exportVm'; readonly vmId: string }
  /** Import a VM from an archive; `replaceId`: restore it over that VM. */
  | { readonly kind: 'importVm'; readonly replaceId: string | null };

export interface Notice {
  readonly id: number;
  readonly tone: 'error' | 'info' | 'warning';
  /** An i18n key and its values (server messages travel as `message`). */
  readonly key: string;
  readonly values?: Readonly<Record<string, string | number>>;
}

export interface IsoImport {
  readonly fileName: string;
  readonly sentBytes: number;
  readonly totalBytes: number;
  readonly cancel: () => void;
}

export type DetailsTab = 'summary' | 'snapshots' | 'logs' | 'performance';

export interface UiSlice {
  view: 'library' | 'host';
  dialog: DialogState | null;
  detailsTab: DetailsTab;
  notices: Notice[];
  isoImport: IsoImport | null;
  setView(view: 'library' | 'host'): void;
  openDialog(dialog: DialogState): void;
  closeDialog(): void;
  setDetailsTab(tab: DetailsTab): void;
  notify(notice: Omit<Notice, 'id'>): void;
  dismissNotice(id: number): void;
  /**
   * Checks a file (refused at once when it is certainly not an ISO: notice), then uploads it (web)
   * or resolves its path (desktop) and detects it. Null when it failed or was cancelled (noticed).
   */
  uploadIso(file: File): Promise<IsoUploadResult | null>;
  /**
   * A dropped or picked file: refused at once when it is certainly not an ISO, else uploaded
   * (web) or resolved (desktop) and detected. With `forVmId` the ISO goes into that VM's CD
   * drive (the display's drop hook); without, the new-VM wizard opens prefilled.
   */
  importIsoFile(file: File, options?: { forVmId?: string }): Promise<void>;
  /** Puts an ISO in a VM's CD drive: running, live through the engine (this run); else in its settings. */
  insertCd(vmId: string, isoPath: string): Promise<void>;
}

let nextNoticeId = 1;

export const createUiSlice: StateCreator<AppState, [], [], UiSlice> = (set, get) => ({
  view: 'library',
  dialog: null,
  detailsTab: 'summary',
  notices: [],
  isoImport: null,
  setView(view) {
    set({ view });
  },
  openDialog(dialog) {
    set({ dialog });
  },
  closeDialog() {
    set({ dialog: null });
  },
  setDetailsTab(detailsTab) {
    set({ detailsTab });
  },
  notify(notice) {
    const n = { ...notice, id: nextNoticeId++ };
    set({ notices: [...get().notices.slice(-4), n] });
    // Confirmations go by themselves; errors stay until read and dismissed.
    if (n.tone !== 'error') setTimeout(() => get().dismissNotice(n.id), n.tone === 'info' ? 6000 : 12000);
  },
  dismissNotice(id) {
    set({ notices: get().notices.filter((n) => n.id !== id) });
  },
  async uploadIso(file) {
    const t = get().transport;
    if (!t) return null;
    if (get().isoImport) {
      get().notify({ tone: 'warning', key: 'drop.busy' });
      return null;
    }
    const check = await precheckFile(file);
    if (!check.ok) {
      get().notify({ tone: 'error', key: `drop.notIso.${check.reason}`, values: { name: file.name } });
      return null;
    }
    const controller = new AbortController();
    set({
      isoImport: { fileName: file.name, sentBytes: 0, totalBytes: file.size, cancel: () => controller.abort() },
    });
    try {
      return await t.importIso(file, {
        signal: controller.signal,
        onProgress: (sentBytes, totalBytes) => {
          const cur = get().isoImport;
          if (cur) set({ isoImport: { ...cur, sentBytes, totalBytes } });
        },
      });
    } catch (err) {
      if (isCancelled(err)) get().notify({ tone: 'info', key: 'drop.cancelled', values: { name: file.name } });
      else get().notify({ tone: 'error', key: 'drop.failed', values: { name: file.name, message: messageOf(err) } });
      return null;
    } finally {
      set({ isoImport: null });
    }
  },
  async importIsoFile(file, options) {
    const result = await get().uploadIso(file);
    if (!result) return;
    if (options?.forVmId) await get().insertCd(options.forVmId, result.path);
    else set({ dialog: { kind: 'wizard', prefill: { iso: result.path, detection: result.detection } } });
  },
  async insertCd(vmId, isoPath) {
    const services = get().services;
    if (!services) return;
    try {
      // The service puts it in the running VM's drive (this run) or in the stored settings.
      const result = await services.vm.attachIso(vmId, isoPath);
      get().notify({ tone: 'info', key: result.live ? 'drop.cdInsertedLive' : 'drop.cdInserted' });
      if (!result.live) await get().refresh();
    } catch (err) {
      get().notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
    }
  },
});
