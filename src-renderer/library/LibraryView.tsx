// The VM library: a searchable list (screen or icon, name, state, OS) and the details pane; an ISO
// dropped anywhere on it (or "Open ISO…") opens the new-VM wizard prefilled; "Import a disk…"
// brings a VirtualBox/VMware/Hyper-V disk in as qcow2; "Media…" opens the media manager. The list
// follows the services' change events (library-slice.ts), never polled; only running VMs' rows
// re-read screens.
import {
  memo,
  useCallback,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type DragEvent,
  type KeyboardEvent,
} from 'react';
import { useTranslation } from 'react-i18next';
import { useShallow } from 'zustand/react/shallow';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { ErrorText } from '../components/ErrorText';
import { OsIcon } from '../components/OsIcon';
import { formatBytes } from '../../src-shared/format-bytes';
import { markListPainted, ROW_PAINT_TIMING } from '../app/perf-marks';
import { selectFilteredVms, useAppActions, useAppStore } from '../store/app-store';
import { listWindow, ROW_HEIGHT } from './list-window';
import { VmDetailsPane } from './VmDetails';
import { VmThumbnail } from './VmThumbnail';
import { IsoFileInput } from '../components/IsoFileInput';

function hasFiles(e: DragEvent): boolean {
  return [...e.dataTransfer.types].includes('Files');
}

/**
 * One row; memoized and hook-free, so selecting a VM re-renders two rows, not all of them (its
 * screen, VmThumbnail, follows the store on its own).
 */
const VmRow = memo(function VmRow({
  vm,
  index,
  total,
  selected,
  focusable,
  osLabel,
  stateLabel,
}: {
  readonly vm: VmListEntry;
  readonly index: number;
  readonly total: number;
  readonly selected: boolean;
  readonly focusable: boolean;
  readonly osLabel: string;
  readonly stateLabel: string;
}) {
  const state = vm.kind === 'ok' ? vm.state : 'inaccessible';
  return (
    <li
      role="option"
      aria-selected={selected}
      aria-posinset={index + 1}
      aria-setsize={total}
      tabIndex={focusable ? 0 : -1}
      className={selected ? 'selected' : ''}
      data-vm-id={vm.id}
      data-index={index}
    >
      {vm.kind === 'ok' ? (
        <VmThumbnail vmId={vm.id} name={vm.name} os={vm.os} state={vm.state} />
      ) : (
        <span className="vm-thumb">
          <OsIcon os={null} />
        </span>
      )}
      {/* elementtiming: the browser reports when the rows' names were painted (first-paint bench). */}
      <span className="vm-name" elementtiming={ROW_PAINT_TIMING}>
        {vm.kind === 'ok' ? vm.name : vm.id}
      </span>
      <span className={`badge state-${state}`}>{stateLabel}</span>
      <span className="muted vm-os">{osLabel}</span>
    </li>
  );
});

function UploadProgress() {
  const { t } = useTranslation();
  const job = useAppStore((s) => s.isoImport);
  if (!job) return null;
  return (
    <div className="upload-progress" role="status">
      <span>{t('drop.uploading', { name: job.fileName })}</span>
      <progress max={job.totalBytes || 1} value={job.sentBytes} aria-label={t('drop.progress')} />
      <span className="muted">
        {formatBytes(job.sentBytes)} / {formatBytes(job.totalBytes)}
      </span>
      <button type="button" onClick={job.cancel}>
        {t('common.cancel')}
      </button>
    </div>
  );
}

export function LibraryView() {
  const { t } = useTranslation();
  const vms = useAppStore(useShallow(selectFilteredVms));
  const total = useAppStore((s) => s.vms.length);
  const loaded = useAppStore((s) => s.loaded);
  const filter = useAppStore((s) => s.filter);
  const selectedId = useAppStore((s) => s.selectedId);
  const error = useAppStore((s) => s.libraryError);
  const { setFilter, select, openDialog, importIsoFile } = useAppActions();
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const fileInput = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const scrollerRef = useRef<HTMLDivElement>(null);
  // Only the rows in view (plus a margin) are in the DOM: 500 VMs paint as fast as 20.
  const [viewport, setViewport] = useState({ top: 0, height: 0 });
  const focusAfterRender = useRef<number | null>(null);
  const measure = useCallback(() => {
    const el = scrollerRef.current;
    if (el) setViewport({ top: el.scrollTop, height: el.clientHeight });
  }, []);
  useEffect(() => {
    const el = scrollerRef.current;
    if (!el) return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [measure, loaded, total]);
  const win = listWindow(vms.length, viewport.top, viewport.height);

  useLayoutEffect(() => {
    if (loaded) markListPainted(vms.length);
  }, [loaded, vms.length]);

  const selectedIndex = vms.findIndex((v) => v.id === selectedId);
  const focusIndex = Math.max(0, selectedIndex);

  // Keep the selected row in view (keyboard moves, a VM selected after create), then focus it
  // when the keyboard moved there.
  useLayoutEffect(() => {
    const el = scrollerRef.current;
    if (!el || selectedIndex < 0) return;
    const top = selectedIndex * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
  }, [selectedIndex]);
  useLayoutEffect(() => {
    const i = focusAfterRender.current;
    if (i === null) return;
    const li = listRef.current?.querySelector<HTMLElement>(`[data-index="${i}"]`);
    if (li) {
      li.focus();
      focusAfterRender.current = null;
    }
  });

  function onListKey(e: KeyboardEvent<HTMLUListElement>) {
    const i = vms.findIndex((v) => v.id === selectedId);
    let next = -1;
    if (e.key === 'ArrowDown') next = Math.min(vms.length - 1, i + 1);
    else if (e.key === 'ArrowUp') next = Math.max(0, i - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = vms.length - 1;
    else if ((e.key === 'Enter' || e.key === ' ') && i < 0 && vms[focusIndex]) next = focusIndex;
    else if (e.key === 'Delete' && i >= 0) {
      openDialog({ kind: 'delete', vmId: vms[i]!.id });
      return;
    }
    if (next < 0 || !vms[next]) return;
    e.preventDefault();
    focusAfterRender.current = next;
    void select(vms[next]!.id);
  }

  function onClickList(target: EventTarget) {
    const li = (target as HTMLElement).closest<HTMLElement>('[data-vm-id]');
    if (li?.dataset.vmId) void select(li.dataset.vmId);
  }

  return (
    <div
      className={`library${dragging ? ' dragging' : ''}`}
      onDragEnter={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        dragDepth.current++;
        setDragging(true);
      }}
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
      }}
      onDragLeave={() => {
        dragDepth.current = Math.max(0, dragDepth.current - 1);
        if (dragDepth.current === 0) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        dragDepth.current = 0;
        setDragging(false);
        const file = e.dataTransfer.files[0];
        if (file) void importIsoFile(file);
      }}
      data-testid="library-drop-zone"
    >
      <section className="vm-list" aria-label={t('library.title')}>
        <div className="list-header">
          <h1>{t('library.title')}</h1>
          <span className="muted">{t('library.count', { count: total })}</span>
        </div>
        <div className="list-actions">
          <button type="button" className="primary" onClick={() => openDialog({ kind: 'wizard', prefill: null })}>
            {t('library.new')}
          </button>
          <button type="button" onClick={() => fileInput.current?.click()}>
            {t('library.openIso')}
          </button>
          <button type="button" onClick={() => openDialog({ kind: 'importDisk' })}>
            {t('library.importDisk')}
          </button>
          <button type="button" onClick={() => openDialog({ kind: 'importVm', replaceId: null })}>
            {t('library.importVm')}
          </button>
          <button type="button" onClick={() => openDialog({ kind: 'media' })}>
            {t('library.media')}
          </button>
          <IsoFileInput ref={fileInput} testId="library-iso-input" onFile={(file) => void importIsoFile(file)} />
        </div>
        <input
          type="search"
          placeholder={t('library.search')}
          aria-label={t('library.search')}
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
        <ErrorText message={error} className="error" />
        <UploadProgress />
        {loaded && total === 0 ? (
          <div className="empty-library">
            <p>{t('library.empty')}</p>
            <p className="muted">{t('library.dropHint')}</p>
          </div>
        ) : (
          <div className="vm-scroller" ref={scrollerRef} onScroll={measure}>
            <ul
              ref={listRef}
              role="listbox"
              aria-label={t('library.title')}
              onKeyDown={onListKey}
              onClick={(e) => onClickList(e.target)}
              style={{ paddingTop: win.start * ROW_HEIGHT, paddingBottom: (vms.length - win.end) * ROW_HEIGHT }}
            >
              {vms.slice(win.start, win.end).map((vm, j) => {
                const i = win.start + j;
                return (
                  <VmRow
                    key={vm.id}
                    vm={vm}
                    index={i}
                    total={vms.length}
                    selected={vm.id === selectedId}
                    focusable={i === focusIndex}
                    osLabel={vm.kind === 'ok' ? t(`os.${vm.os}`) : t('library.inaccessible')}
                    stateLabel={t(`state.${vm.kind === 'ok' ? vm.state : 'inaccessible'}`)}
                  />
                );
              })}
            </ul>
          </div>
        )}
        <p className="muted drop-hint">{t('library.dropHint')}</p>
      </section>
      <VmDetailsPane />
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          <div>{t('drop.overlay')}</div>
        </div>
      )}
    </div>
  );
}
