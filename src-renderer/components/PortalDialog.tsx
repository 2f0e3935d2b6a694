// A modal Dialog opened from inside the page (a tab's own dialogs) rather than the app's dialog
// slot: rendered into <body>, outside the part of the page an open dialog makes inert.
import { createPortal } from 'react-dom';
import { Dialog, type DialogProps } from './Dialog';

export function PortalDialog(props: DialogProps) {
  return createPortal(<Dialog {...props} />, document.body);
}
