// A table's header row from translation keys (an empty key: a column without a heading).
import { useTranslation } from 'react-i18next';

export function TableHead({ columns }: { readonly columns: readonly string[] }) {
  const { t } = useTranslation();
  return (
    <thead>
      <tr>
        {columns.map((key, i) => (
          <th key={key || `column-${i}`}>{key ? t(key) : null}</th>
        ))}
      </tr>
    </thead>
  );
}
