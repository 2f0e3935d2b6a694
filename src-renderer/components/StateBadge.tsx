// A VM's power state as a coloured badge with its translated name.
import { useTranslation } from 'react-i18next';
import type { VmPowerState } from '../../src-shared/contracts/library';

export function StateBadge({ state }: { readonly state: VmPowerState | 'inaccessible' }) {
  const { t } = useTranslation();
  return <span className={`badge state-${state}`}>{t(`state.${state}`)}</span>;
}
