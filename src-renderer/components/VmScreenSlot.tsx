// Where a running VM's screen goes. A placeholder: the display view (src-renderer/display/,
// noVNC over a MessagePort or the console WebSocket) replaces this component. Dropping an ISO
// onto the screen should call `useAppStore.getState().importIsoFile(file, { forVmId })`.
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';

export interface VmScreenSlotProps {
  readonly vmId: string;
  readonly state: VmPowerState;
}

export function VmScreenSlot({ vmId, state }: VmScreenSlotProps) {
  const { t } = useTranslation();
  return (
    <div className="vm-screen-slot" data-vm-screen-slot={vmId} data-state={state}>
      <span>{state === 'running' || state === 'paused' ? t('screen.pending') : t('screen.off')}</span>
    </div>
  );
}
