// The media manager (like VirtualBox's Virtual Media Manager): every hard disk, optical disc and
// floppy image Maru knows, in three tabs, with who uses each; the selected medium's details, and
// Release, Remove (orphans only, after a confirmation) and Show in folder (desktop) / Copy path.
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { DesktopBridge } from '../../src-shared/contracts/ipc-channels';
import type { MediumEntry, MediumType } from '../../src-shared/contracts/media';
import { reviveError } from '../../src-shared/errors';
import { formatBytes } from '../../src-shared/format-bytes';
import { Dialog } from '../components/Dialog';
import { ErrorText } from '../components/ErrorText';
import { TableHead } from '../components/TableHead';
import { useAppActions, useAppStore } from '../store/app-store';
import type { MediaOutcome } from '../store/media-slice';
import { messageOf } from '../store/store-errors';
import { fileName, mediaOfType, mediumStatus, removeRefusal, usedNow, useText } from './media-rows';

const TYPES: readonly MediumType[] = ['hdd', 'dvd', 'fdd'];
const COLUMNS = ['name', 'format', 'virtualSize', 'actualSize', 'status', 'usedBy'].map((c) => `media.columns.${c}`);

/** The desktop's "Show in folder" (the preload's bridge), or null in the web console. */
function showInFolderBridge(): ((path: string) => Promise<void>) | null {
  if (typeof window === 'undefined') return null;
  const bridge = (window as unknown as { maruDesktop?: Partial<Pick<DesktopBridge, 'showInFolder'>> }).maruDesktop;
  const show = bridge?.showInFolder;
  return typeof show === 'function' ? (p) => show.call(bridge, p) : null;
}

function size(bytes: number | null): string {
  return bytes === null ? '—' : formatBytes(bytes);
}

/** The uses of a medium, one per line (VM and drive, a snapshot, through an overlay). */
function UsedBy({ medium }: { readonly medium: MediumEntry }) {
  const { t } = useTranslation();
  if (medium.usedBy.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="media-uses">
      {medium.usedBy.map((u) => {
        const { key, values } = useText(u);
        return <li key={`${u.vmId} ${u.driveId} ${u.snapshot?.id ?? ''} ${u.via ?? ''}`}>{t(key, values)}</li>;
      })}
    </ul>
  );
}

function OutcomeText({ outcome }: { readonly outcome: MediaOutcome }) {
  const { t } = useTranslation();
  if (outcome.op === 'remove') return <p>{t('media.removed', { name: fileName(outcome.path) })}</p>;
  const { released, notes } = outcome.result;
  return (
    <>
      {released.length > 0 && (
        <p>
          {t('media.released', {
            name: fileName(outcome.path),
            drives: released.map((r) => t('media.use.now', { vm: r.vmName, drive: r.driveId })).join(', '),
          })}
        </p>
      )}
      {notes.map((n) => (
        <p key={n} className="hint">
          {t('errors.serverWarning', { message: n })}
        </p>
      ))}
    </>
  );
}

/** The selected medium: where it is, what it is, who uses it, its problem. */
function MediumDetails({ medium, pathId }: { readonly medium: MediumEntry; readonly pathId: string }) {
  const { t } = useTranslation();
  return (
    <dl className="summary">
      <dt>{t('media.path')}</dt>
      <dd id={pathId} className="path">
        {medium.path}
      </dd>
      <dt>{t('media.location')}</dt>
      <dd>{t(`media.where.${medium.location}`)}</dd>
      <dt>{t('media.format')}</dt>
      <dd>{medium.format ?? '—'}</dd>
      <dt>{t('media.virtualSize')}</dt>
      <dd>{size(medium.virtualSizeBytes)}</dd>
      <dt>{t('media.actualSize')}</dt>
      <dd>{size(medium.actualSizeBytes)}</dd>
      {medium.backingFile && (
        <>
          <dt>{t('media.backing')}</dt>
          <dd className="path">{medium.backingFile}</dd>
        </>
      )}
      <dt>{t('media.usedBy')}</dt>
      <dd>
        {medium.usedBy.length === 0 ? (
          t('media.notUsed')
        ) : (
          <ul className="media-uses">
            {medium.usedBy.map((u) => {
              const { key, values } = useText(u);
              return (
                <li key={`${u.vmId} ${u.driveId} ${u.snapshot?.id ?? ''} ${u.via ?? ''}`}>
                  {t('media.useState', { use: t(key, values), state: t(`state.${u.vmState}`) })}
                  {u.via && <span className="path muted"> {t('media.viaFile', { file: u.via })}</span>}
                </li>
              );
            })}
          </ul>
        )}
      </dd>
      {medium.problem && (
        <>
          <dt>{t('media.problem')}</dt>
          <dd className="field-error">{medium.problem}</dd>
        </>
      )}
    </dl>
  );
}

export function MediaManagerDialog() {
  const { t } = useTranslation();
  const id = useId();
  const view = useAppStore((s) => s.mediaView);
  const { closeDialog, openMediaView, closeMediaView, loadMedia, releaseMedium, removeMedium, clearMediaOutcome } =
    useAppActions();
  const [tab, setTab] = useState<MediumType>('hdd');
  const [selected, setSelected] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [copy, setCopy] = useState<'copied' | 'failed' | null>(null);
  const [bridgeError, setBridgeError] = useState<string | null>(null);
  const tbodyRef = useRef<HTMLTableSectionElement>(null);
  const confirmRef = useRef<HTMLDivElement>(null);
  const focusRow = useRef<string | null>(null);
  const showInFolder = showInFolderBridge();

  useEffect(() => {
    void openMediaView();
    return () => closeMediaView();
  }, [openMediaView, closeMediaView]);

  const inventory = view?.inventory ?? null;
  const rows = mediaOfType(inventory, tab);
  const medium = rows.find((m) => m.path === selected) ?? null;
  const busy = view?.busy ?? null;
  const focusIndex = Math.max(
    0,
    rows.findIndex((m) => m.path === selected),
  );

  // The keyboard moved the selection: focus the row it moved to once it is drawn.
  useEffect(() => {
    const want = focusRow.current;
    if (want === null) return;
    const row = [...(tbodyRef.current?.querySelectorAll<HTMLElement>('tr[data-path]') ?? [])].find(
      (r) => r.dataset.path === want,
    );
    if (row) {
      row.focus();
      focusRow.current = null;
    }
  });
  // The confirmation takes the focus (its Cancel), so Enter does not delete by accident.
  useEffect(() => {
    if (confirming) confirmRef.current?.querySelector<HTMLElement>('button')?.focus();
  }, [confirming]);

  function forgetAction() {
    setConfirming(false);
    setCopy(null);
    setBridgeError(null);
    clearMediaOutcome();
  }

  function select(path: string | null, focus = false) {
    if (path !== selected) forgetAction();
    setSelected(path);
    if (focus) focusRow.current = path;
  }

  function changeTab(next: MediumType) {
    setTab(next);
    select(null);
  }

  function onTabKey(e: KeyboardEvent<HTMLButtonElement>) {
    const i = TYPES.indexOf(tab);
    let next: MediumType | null = null;
    if (e.key === 'ArrowRight') next = TYPES[(i + 1) % TYPES.length]!;
    else if (e.key === 'ArrowLeft') next = TYPES[(i + TYPES.length - 1) % TYPES.length]!;
    else if (e.key === 'Home') next = TYPES[0]!;
    else if (e.key === 'End') next = TYPES[TYPES.length - 1]!;
    if (!next) return;
    e.preventDefault();
    changeTab(next);
    document.getElementById(`${id}-tab-${next}`)?.focus();
  }

  function onRowsKey(e: KeyboardEvent<HTMLTableSectionElement>) {
    if (rows.length === 0) return;
    const i = rows.findIndex((m) => m.path === selected);
    let next = -1;
    if (e.key === 'ArrowDown') next = Math.min(rows.length - 1, i + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, i - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = rows.length - 1;
    else if ((e.key === 'Enter' || e.key === ' ') && i < 0) next = focusIndex;
    if (next < 0) return;
    e.preventDefault();
    select(rows[next]!.path, true);
  }

  function onRowsClick(target: EventTarget) {
    const row = (target as HTMLElement).closest<HTMLElement>('tr[data-path]');
    if (row?.dataset.path) select(row.dataset.path);
  }

  async function release(m: MediumEntry) {
    forgetAction();
    await releaseMedium(m.path);
  }

  async function remove(m: MediumEntry) {
    setConfirming(false);
    if (await removeMedium(m.path)) setSelected(null);
  }

  async function show(m: MediumEntry) {
    setBridgeError(null);
    try {
      await showInFolder?.(m.path);
    } catch (err) {
      // The preload rejects with the plain wire error `{ code, message }` (the context bridge drops an Error's code).
      setBridgeError(messageOf(reviveError(err)));
    }
  }

  async function copyPath(m: MediumEntry) {
    try {
      await navigator.clipboard.writeText(m.path);
      setCopy('copied');
    } catch {
      // No clipboard (an insecure page, a denied permission): the path is selected for Ctrl+C.
      const el = document.getElementById(`${id}-path`);
      const selection = window.getSelection();
      if (el && selection) {
        const range = document.createRange();
        range.selectNodeContents(el);
        selection.removeAllRanges();
        selection.addRange(range);
      }
      setCopy('failed');
    }
  }

  function onConfirmKey(e: KeyboardEvent<HTMLDivElement>) {
    // Escape closes the confirmation, not the media manager (the dialog listens on the document).
    if (e.key !== 'Escape') return;
    e.preventDefault();
    setConfirming(false);
  }

  const refusal = medium ? removeRefusal(medium) : null;
  const problems = inventory?.problems ?? [];

  return (
    <Dialog title={t('media.title')} onClose={closeDialog} className="media-manager" busy={busy !== null}>
      <p className="hint">{t('media.intro')}</p>
      <div className="media-head">
        <button type="button" onClick={() => void loadMedia()} disabled={view?.loading}>
          {t('media.refresh')}
        </button>
        {view?.loading && (
          <span className="muted" role="status">
            {t('media.reading')}
          </span>
        )}
      </div>
      <ErrorText message={view?.listError} fromServer />
      {problems.length > 0 && (
        <div className="notice notice-warning media-problems" role="status">
          <p>{t('media.problems')}</p>
          <ul>
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}

      <div role="tablist" aria-label={t('media.kinds')} className="tabs">
        {TYPES.map((type) => (
          <button
            key={type}
            id={`${id}-tab-${type}`}
            type="button"
            role="tab"
            aria-selected={tab === type}
            aria-controls={`${id}-panel`}
            tabIndex={tab === type ? 0 : -1}
            onClick={() => changeTab(type)}
            onKeyDown={onTabKey}
          >
            {t(`media.tab.${type}`, { n: mediaOfType(inventory, type).length })}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${id}-panel`} aria-labelledby={`${id}-tab-${tab}`} className="tab-panel">
        {inventory && rows.length === 0 ? (
          <p className="muted">{t(`media.none.${tab}`)}</p>
        ) : (
          <div className="media-scroller">
            <table role="grid" aria-readonly="true" aria-labelledby={`${id}-tab-${tab}`} className="media-table">
              <TableHead columns={COLUMNS} />
              <tbody ref={tbodyRef} onKeyDown={onRowsKey} onClick={(e) => onRowsClick(e.target)}>
                {rows.map((m, i) => {
                  const status = mediumStatus(m);
                  const isSelected = m.path === selected;
                  return (
                    <tr
                      key={m.path}
                      data-path={m.path}
                      aria-selected={isSelected}
                      tabIndex={i === focusIndex ? 0 : -1}
                      className={`${isSelected ? 'selected' : ''} status-${status}`}
                    >
                      <td className="media-name">
                        <span title={m.path}>{fileName(m.path)}</span>
                        {m.problem && <span className="media-problem">{m.problem}</span>}
                      </td>
                      <td>{m.format ?? '—'}</td>
                      <td>{size(m.virtualSizeBytes)}</td>
                      <td>{size(m.actualSizeBytes)}</td>
                      <td className="media-status">
                        {status === 'missing' ? (
                          <strong>{t('media.status.missing')}</strong>
                        ) : (
                          t(`media.status.${status}`)
                        )}
                      </td>
                      <td>
                        <UsedBy medium={m} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>

      <section className="media-details" aria-label={t('media.details')}>
        {medium ? (
          <>
            <MediumDetails medium={medium} pathId={`${id}-path`} />
            <div
              className="button-group"
              role="group"
              aria-label={t('media.actionsFor', { name: fileName(medium.path) })}
            >
              <button type="button" disabled={busy !== null || !usedNow(medium)} onClick={() => void release(medium)}>
                {t('media.release')}
              </button>
              <button
                type="button"
                className="danger"
                disabled={busy !== null || refusal !== null || confirming}
                onClick={() => {
                  forgetAction();
                  setConfirming(true);
                }}
              >
                {t('media.remove')}
              </button>
              {showInFolder ? (
                <button type="button" disabled={!medium.exists} onClick={() => void show(medium)}>
                  {t('media.showInFolder')}
                </button>
              ) : (
                <button type="button" onClick={() => void copyPath(medium)}>
                  {t('media.copyPath')}
                </button>
              )}
            </div>
            {(usedNow(medium) || refusal) && (
              <p className="hint">
                {[usedNow(medium) ? t('media.releaseHint') : '', refusal ? t(`media.removeHint.${refusal}`) : '']
                  .filter(Boolean)
                  .join(' ')}
              </p>
            )}
            {confirming && (
              <div
                ref={confirmRef}
                className="media-confirm"
                role="group"
                aria-labelledby={`${id}-confirm`}
                onKeyDown={onConfirmKey}
              >
                <p id={`${id}-confirm`}>
                  <strong>{t('media.confirmRemove', { name: fileName(medium.path) })}</strong>
                </p>
                <p className="path">{t('media.confirmRemoveText', { path: medium.path })}</p>
                <div className="dialog-buttons">
                  <button type="button" onClick={() => setConfirming(false)}>
                    {t('common.cancel')}
                  </button>
                  <span className="spacer" />
                  <button type="button" className="danger" onClick={() => void remove(medium)}>
                    {t('media.confirmDelete')}
                  </button>
                </div>
              </div>
            )}
          </>
        ) : (
          <p className="muted">{t('media.selectHint')}</p>
        )}
        {busy && !view?.outcome && !view?.actionError && (
          <p className="muted" role="status">
            {t(busy === 'release' ? 'media.releasing' : 'media.removing')}
          </p>
        )}
        {view?.outcome && (
          <div role="status" className="media-outcome">
            <OutcomeText outcome={view.outcome} />
          </div>
        )}
        <ErrorText message={view?.actionError ?? bridgeError} fromServer />
        {copy && (
          <p className={copy === 'copied' ? 'hint' : 'field-warning'} role="status">
            {copy === 'copied' ? t('media.copied', { path: medium?.path ?? '' }) : t('media.copyFailed')}
          </p>
        )}
      </section>

      <div className="dialog-buttons">
        <span className="spacer" />
        <button type="button" className="primary" disabled={busy !== null} onClick={closeDialog}>
          {t('common.close')}
        </button>
      </div>
    </Dialog>
  );
}
