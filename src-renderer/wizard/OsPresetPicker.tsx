// The first wizard step: the guest OS, as a radio group of presets with icons.
import { useTranslation } from 'react-i18next';
import { PRESET_IDS, type PresetId } from '../../src-shared/os-presets';
import { OsIcon } from '../components/OsIcon';

export function OsPresetPicker(p: { readonly value: PresetId; readonly onChange: (os: PresetId) => void }) {
  const { t } = useTranslation();
  return (
    <fieldset className="preset-grid">
      <legend>{t('wizard.osLegend')}</legend>
      {PRESET_IDS.map((id) => (
        <label key={id} className={`preset${p.value === id ? ' chosen' : ''}`}>
          <input type="radio" name="os" value={id} checked={p.value === id} onChange={() => p.onChange(id)} />
          <OsIcon os={id} size={28} />
          <span>{t(`os.${id}`)}</span>
        </label>
      ))}
    </fieldset>
  );
}
