// The install ISO of a VM: a path, a picker over the server's ISO folders (web console) and
// a button to open a local file (uploaded on the web, by path on the desktop), with detection.
import { useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { IsoDetection, IsoFolderListing } from '../../src-shared/contracts/media';
import { ErrorText } from '../components/ErrorText';
import { formatBytes } from '../../src-shared/format-bytes';
import { useAppActions, useAppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';
import { IsoDetectionSummary } from './IsoDetectionSummary';
import { IsoFileInput } from '../components/IsoFileInput';

export interface IsoFieldProps {
  readonly value: string | null;
  /** What is already known of `value` (an ISO dropped on the library); the field shows what it detects itself. */
  readonly detection?: IsoDetection | null;
  /** A new path (and its detection when known). */
  readonly onChange: (iso: string | null, detection: IsoDetection | null) => void;
  readonly disabled?: boolean;
}

export function IsoField(p: IsoFieldProps) {
  const { t } = useTranslation();
  const id = useId();
  const services = useAppStore((s) => s.services);
  const transportKind = useAppStore((s) => s.transportKind);
  const { uploadIso: upload } = useAppActions();
  const importing = useAppStore((s) => s.isoImport);
  const fileInput = useRef<HTMLInputElement>(null);
  const [listing, setListing] = useState<IsoFolderListing | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [detection, setDetection] = useState<IsoDetection | null>(p.detection ?? null);

  function choose(iso: string | null, d: IsoDetection | null) {
    setDetection(d);
    p.onChange(iso, d);
  }

  async function browse(folder: string | null) {
    if (!services) return;
    setError(null);
    try {
      const l = await services.media.listIsoFolder(folder);
      // One allowed folder: open it straight away.
      if (folder === null && l.roots.length === 1) await browse(l.roots[0]!);
      else setListing(l);
    } catch (err) {
      setError(messageOf(err));
    }
  }

  async function detect(path: string) {
    if (!services) return;
    setBusy(true);
    setError(null);
    try {
      const d = await services.media.detectIso(path);
      choose(d.path, d);
      setListing(null);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="field iso-field">
      <label htmlFor={id}>{t('iso.label')}</label>
      <div className="iso-row">
        <input
          id={id}
          name="iso"
          type="text"
          value={p.value ?? ''}
          placeholder={t('iso.placeholder')}
          disabled={p.disabled}
          spellCheck={false}
          onChange={(e) => choose(e.target.value.trim() === '' ? null : e.target.value, null)}
          aria-describedby={error ? `${id}-error` : undefined}
        />
        <button type="button" disabled={p.disabled || busy || !p.value} onClick={() => p.value && void detect(p.value)}>
          {t('iso.detect')}
        </button>
        {p.value && (
          <button type="button" disabled={p.disabled} onClick={() => choose(null, null)}>
            {t('iso.eject')}
          </button>
        )}
      </div>
      <div className="iso-row">
        <button type="button" disabled={p.disabled} onClick={() => void browse(null)}>
          {t('iso.browse')}
        </button>
        <button type="button" disabled={p.disabled || importing !== null} onClick={() => fileInput.current?.click()}>
          {transportKind === 'web' ? t('iso.uploadFile') : t('iso.openFile')}
        </button>
        <IsoFileInput
          ref={fileInput}
          testId="wizard-iso-input"
          onFile={(file) =>
            void upload(file).then((r) => {
              if (r) choose(r.path, r.detection);
            })
          }
        />
      </div>
      <ErrorText id={`${id}-error`} message={error} />
      {listing && (
        <div className="iso-browser" role="group" aria-label={t('iso.browser')}>
          <div className="iso-browser-head">
            <span className="muted">{listing.folder ?? t('iso.roots')}</span>
            {(listing.parent !== null || (listing.folder !== null && listing.roots.length > 1)) && (
              <button type="button" onClick={() => void browse(listing.parent)}>
                {t('iso.up')}
              </button>
            )}
            <button type="button" onClick={() => setListing(null)}>
              {t('common.close')}
            </button>
          </div>
          {listing.entries.length === 0 ? (
            <p className="muted">{t('iso.emptyFolder')}</p>
          ) : (
            <ul>
              {listing.entries.map((e) => (
                <li key={e.path}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => void (e.kind === 'folder' ? browse(e.path) : detect(e.path))}
                  >
                    {e.kind === 'folder' ? `${e.name}/` : e.name}
                  </button>
                  {e.sizeBytes !== null && <span className="muted"> {formatBytes(e.sizeBytes)}</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {detection && detection.path === p.value && <IsoDetectionSummary detection={detection} />}
    </div>
  );
}
