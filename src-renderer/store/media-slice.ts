// Media slice: the media manager's view of every disk, ISO and floppy image (`services.media.list`),
// kept only while its dialog is open and read again on the services' change events, and its two
// actions, release and remove, with their outcome or the server's error kept for the dialog.
import type { StateCreator } from 'zustand';
import type { MediaInventory, MediumReleaseResult } from '../../src-shared/contracts/media';
import type { AppState } from './app-store';
import { messageOf } from './store-errors';

/** What the last release or remove did (the dialog words it). */
export type MediaOutcome =
  | { readonly op: 'release'; readonly path: string; readonly result: MediumReleaseResult }
  | { readonly op: 'remove'; readonly path: string };

export interface MediaView {
  readonly inventory: MediaInventory | null;
  /** A list read under way. */
  readonly loading: boolean;
  /** The server's message when the list could not be read. */
  readonly listError: string | null;
  /** A release or remove under way (the buttons wait for it). */
  readonly busy: 'release' | 'remove' | null;
  readonly outcome: MediaOutcome | null;
  /** The server's message for the release or remove that failed (nothing was changed). */
  readonly actionError: string | null;
}

export interface MediaSlice {
  /** Null while the media manager is closed (nothing is read then). */
  mediaView: MediaView | null;
  /** The media manager opened: reads the list. */
  openMediaView(): Promise<void>;
  /** Reads the list again (Refresh, or a change event); a read asked for while one runs runs once more after it. */
  loadMedia(): Promise<void>;
  /** A change event of the services: the open media manager reads the list again. */
  mediaChanged(): void;
  /** Takes a medium out of every VM that uses it now; false when refused or failed (the error is kept). */
  releaseMedium(path: string): Promise<boolean>;
  /** Deletes an orphan medium's file; false when refused or failed (the error is kept). */
  removeMedium(path: string): Promise<boolean>;
  /** Forgets the last outcome or error (another medium was selected). */
  clearMediaOutcome(): void;
  /** The media manager closed. */
  closeMediaView(): void;
}

const EMPTY_VIEW: MediaView = {
  inventory: null,
  loading: false,
  listError: null,
  busy: null,
  outcome: null,
  actionError: null,
};

export const createMediaSlice: StateCreator<AppState, [], [], MediaSlice> = (set, get) => {
  let reading: Promise<void> | null = null;
  let readAgain = false;

  function patch(p: Partial<MediaView>): void {
    const cur = get().mediaView;
    if (cur) set({ mediaView: { ...cur, ...p } });
  }

  async function act(op: 'release' | 'remove', fn: () => Promise<MediaOutcome>): Promise<boolean> {
    const view = get().mediaView;
    if (!get().services || !view || view.busy) return false;
    patch({ busy: op, outcome: null, actionError: null });
    let ok = false;
    try {
      const outcome = await fn();
      patch({ outcome });
      ok = true;
    } catch (err) {
      patch({ actionError: messageOf(err) });
    }
    // The list shows what the change did before the buttons come back.
    await get().loadMedia();
    patch({ busy: null });
    return ok;
  }

  return {
    mediaView: null,
    async openMediaView() {
      set({ mediaView: { ...EMPTY_VIEW } });
      await get().loadMedia();
    },
    async loadMedia() {
      const services = get().services;
      if (!services || !get().mediaView) return;
      if (reading) {
        readAgain = true;
        return reading;
      }
      reading = (async () => {
        do {
          readAgain = false;
          patch({ loading: true });
          try {
            const inventory = await services.media.list();
            patch({ inventory, loading: false, listError: null });
          } catch (err) {
            patch({ loading: false, listError: messageOf(err) });
          }
        } while (readAgain && get().mediaView);
      })();
      try {
        await reading;
      } finally {
        reading = null;
      }
    },
    mediaChanged() {
      if (get().mediaView) void get().loadMedia();
    },
    releaseMedium(path) {
      return act('release', async () => ({
        op: 'release',
        path,
        result: await get().services!.media.release(path),
      }));
    },
    removeMedium(path) {
      return act('remove', async () => {
        const r = await get().services!.media.remove(path);
        return { op: 'remove', path: r.removed };
      });
    },
    clearMediaOutcome() {
      patch({ outcome: null, actionError: null });
    },
    closeMediaView() {
      set({ mediaView: null });
    },
  };
};
