// A modal dialog: labelled, focus moved in and trapped (Tab / Shift+Tab cycle), Escape
// closes (from anywhere), focus returns to where it was. Its content is usually a <form> so Enter submits.
import { useEffect, useId, useRef, type KeyboardEvent, type ReactNode } from 'react';

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), ' +
  'textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null);
}

export interface DialogProps {
  readonly title: ReactNode;
  readonly onClose: () => void;
  readonly children: ReactNode;
  readonly className?: string;
  /** Escape does nothing while true (e.g. a job that must be cancelled explicitly). */
  readonly busy?: boolean;
}

export function Dialog({ title, onClose, children, className, busy }: DialogProps) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();

  const closeRef = useRef({ onClose, busy });
  closeRef.current = { onClose, busy };

  // Escape closes from anywhere (focus may have fallen to <body> when a pressed button got disabled).
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      e.preventDefault();
      if (!closeRef.current.busy) closeRef.current.onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    // Everything behind the dialog is inert (no focus, no clicks, hidden from screen readers),
    // set only once the dialog is here: a lazily loaded dialog must not blur its opener early.
    const behind = document.querySelector<HTMLElement>('[data-behind-dialogs]');
    if (behind) behind.inert = true;
    const el = ref.current;
    if (el) {
      const first = el.querySelector<HTMLElement>('[data-autofocus]') ?? focusables(el)[0] ?? el;
      first.focus();
    }
    return () => {
      if (behind) behind.inert = false;
      previous?.focus();
    };
  }, []);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key !== 'Tab' || !ref.current) return;
    const items = focusables(ref.current);
    if (items.length === 0) {
      e.preventDefault();
      return;
    }
    const first = items[0]!;
    const last = items[items.length - 1]!;
    if (e.shiftKey && (document.activeElement === first || document.activeElement === ref.current)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }

  return (
    <div className="modal-backdrop">
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        className={`modal ${className ?? ''}`}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId} className="modal-title">
          {title}
        </h2>
        {children}
      </div>
    </div>
  );
}
