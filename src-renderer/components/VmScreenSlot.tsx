// Where a running VM's screen goes: the display view (noVNC over the console WebSocket or
// a desktop MessagePort) while the VM runs or is paused. Dropping an ISO onto the screen
// inserts it into the VM's CD drive. The display view (noVNC: more than the rest of the app
// together) loads on first use, so the library paints without it.
import { lazy, Suspense, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';
import { useAppStore, useAppStoreApi } from '../store/app-store';

const VmDisplay = lazy(() => import('../display/VmDisplay').then((m) => ({ default: m.VmDisplay })));

export interface VmScreenSlotProps {
  readonly vmId: string;
  readonly vmName: string;
  readonly state: VmPowerState;
}

export function VmScreenSlot({ vmId, vmName, state }: VmScreenSlotProps) {
  const { t } = useTranslation();
  const transport = useAppStore((s) => s.transport);
  const store = useAppStoreApi();
  const live = state === 'running' || state === 'paused';
  const onDrop = (e: DragEvent) => {
    const file = e.dataTransfer.files[0];
    if (!file) return;
    e.preventDefault();
    e.stopPropagation();
    void store.getState().importIsoFile(file, { forVmId: vmId });
  };
  return (
    <div
      className="vm-screen-slot"
      data-vm-screen-slot={vmId}
      data-state={state}
      onDragOver={(e) => {
        if (live) e.preventDefault();
      }}
      onDrop={live ? onDrop : undefined}
    >
      {live && transport ? (
        <Suspense fallback={<span>{t('screen.pending')}</span>}>
          <VmDisplay transport={transport} vmId={vmId} vmName={vmName} />
        </Suspense>
      ) : (
        <span>{live ? t('screen.pending') : t('screen.off')}</span>
      )}
    </div>
  );
}
