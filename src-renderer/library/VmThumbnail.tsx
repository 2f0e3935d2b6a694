// A library row's picture of its VM: the VM's screen (live while it runs, else the last one
// kept), or its OS icon when there is none. Read only while the row is rendered (the list is
// virtualized); when to read again is library/thumbnail-refresh.ts, the cache store/thumbnail-slice.ts.
import { memo, useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';
import type { PresetId } from '../../src-shared/os-presets';
import { OsIcon } from '../components/OsIcon';
import { useAppStore, useAppStoreApi } from '../store/app-store';
import { firstReadDelay, scheduleThumbnailReads, thumbnailModeOf, type RefreshHost } from './thumbnail-refresh';

/** The page's timers and visibility (a hidden tab or minimized window reads nothing). */
const pageRefreshHost: RefreshHost = {
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  visible: () => document.visibilityState === 'visible',
  onVisible(fn) {
    const listener = () => {
      if (document.visibilityState === 'visible') fn();
    };
    document.addEventListener('visibilitychange', listener);
    return () => document.removeEventListener('visibilitychange', listener);
  },
};

export const VmThumbnail = memo(function VmThumbnail({
  vmId,
  name,
  os,
  state,
}: {
  readonly vmId: string;
  readonly name: string;
  readonly os: PresetId;
  readonly state: VmPowerState;
}) {
  const { t } = useTranslation();
  const store = useAppStoreApi();
  const src = useAppStore((s) => s.vmThumbnails[vmId]?.src ?? null);

  // While rendered, the row counts as showing the VM (snapshot events read its screen again).
  useEffect(() => store.getState().watchVmThumbnail(vmId), [store, vmId]);
  // Reads for the VM's present state; a new state (vm.changed) stops them and plans anew.
  useEffect(() => {
    const delay = firstReadDelay(state, store.getState().vmThumbnails[vmId], Date.now());
    if (delay === null) return undefined;
    return scheduleThumbnailReads(
      {
        mode: thumbnailModeOf(state) ?? 'kept',
        read: () => store.getState().loadVmThumbnail(vmId),
        firstDelayMs: delay,
      },
      pageRefreshHost,
    );
  }, [store, vmId, state]);

  return (
    <span className="vm-thumb">
      {src ? (
        <img src={src} alt={t('library.screenAlt', { name })} width={56} height={42} decoding="async" />
      ) : (
        <OsIcon os={os} />
      )}
    </span>
  );
});
