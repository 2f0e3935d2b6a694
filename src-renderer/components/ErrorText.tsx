// An error shown where it happened (role=alert, nothing when there is none): a field's or a
// pane's own message, or what the server said (“Maru says: …”).
import { useTranslation } from 'react-i18next';

export interface ErrorTextProps {
  readonly message: string | false | null | undefined;
  readonly id?: string;
  /** `field-error` (default): under a field or in a dialog; `error`: a page's own line. */
  readonly className?: string;
  /** The message came from the server: prefixed with “Maru says:”. */
  readonly fromServer?: boolean;
}

export function ErrorText({ message, id, className = 'field-error', fromServer = false }: ErrorTextProps) {
  const { t } = useTranslation();
  if (!message) return null;
  return (
    <p id={id} className={className} role="alert">
      {fromServer ? t('errors.server', { message }) : message}
    </p>
  );
}
