// The app shell: login gate (web console), header (pages, language, logout), the current
// page (library or host check), the open dialog and notices; on the desktop it carries out
// the Machine menu's actions.
import { lazy, Suspense, useEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { Notices } from '../components/Notices';
import { OsIconSprite } from '../components/OsIcon';
import { changeLanguage, LANGUAGES, type Language } from '../i18n/i18n';
import { LibraryView } from '../library/LibraryView';
import { useAppActions, useAppStore, useAppStoreApi } from '../store/app-store';
import { LoginView } from '../views/LoginView';
import { runMenuAction } from './menu-actions';
import { saveBlob } from './save-file';

// Loaded when first opened: the library's first paint parses only what it shows.
const NewVmWizard = lazy(() => import('../wizard/NewVmWizard').then((m) => ({ default: m.NewVmWizard })));
const VmSettingsDialog = lazy(() =>
  import('../library/VmSettingsDialog').then((m) => ({ default: m.VmSettingsDialog })),
);
const DeleteVmDialog = lazy(() => import('../library/DeleteVmDialog').then((m) => ({ default: m.DeleteVmDialog })));
const CloneVmDialog = lazy(() => import('../library/CloneVmDialog').then((m) => ({ default: m.CloneVmDialog })));
const ImportDiskDialog = lazy(() =>
  import('../library/ImportDiskDialog').then((m) => ({ default: m.ImportDiskDialog })),
);
const MediaManagerDialog = lazy(() =>
  import('../library/MediaManagerDialog').then((m) => ({ default: m.MediaManagerDialog })),
);
const ExportVmDialog = lazy(() => import('../library/BackupDialogs').then((m) => ({ default: m.ExportVmDialog })));
const ImportVmDialog = lazy(() => import('../library/BackupDialogs').then((m) => ({ default: m.ImportVmDialog })));
const HostCheckView = lazy(() => import('../host/HostCheckView').then((m) => ({ default: m.HostCheckView })));

function LanguagePicker() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language">
      {t('app.language')}
      <select value={i18n.language} onChange={(e) => void changeLanguage(e.target.value as Language)}>
        {LANGUAGES.map((l) => (
          <option key={l} value={l}>
            {l === 'en' ? 'English' : '한국어'}
          </option>
        ))}
      </select>
    </label>
  );
}

function DialogFor() {
  const dialog = useAppStore((s) => s.dialog);
  if (!dialog) return null;
  switch (dialog.kind) {
    case 'wizard':
      return <NewVmWizard prefill={dialog.prefill} />;
    case 'settings':
      return <VmSettingsDialog vmId={dialog.vmId} />;
    case 'delete':
      return <DeleteVmDialog vmId={dialog.vmId} />;
    case 'clone':
      return <CloneVmDialog vmId={dialog.vmId} />;
    case 'importDisk':
      return <ImportDiskDialog />;
    case 'media':
      return <MediaManagerDialog />;
    case 'exportVm':
      return <ExportVmDialog vmId={dialog.vmId} />;
    case 'importVm':
      return <ImportVmDialog replaceId={dialog.replaceId} />;
  }
}

function OpenDialog() {
  return (
    <Suspense fallback={null}>
      <DialogFor />
    </Suspense>
  );
}

/** The desktop's Machine menu → the selected VM (the web console has no such menu). */
function useMenuActions(): void {
  const store = useAppStoreApi();
  const transport = useAppStore((s) => s.transport);
  useEffect(
    () => transport?.onMenuAction?.((action) => void runMenuAction(action, { store, saveFile: saveBlob })),
    [store, transport],
  );
}

export function App() {
  const { t } = useTranslation();
  const session = useAppStore((s) => s.session);
  const transportKind = useAppStore((s) => s.transportKind);
  const connectionError = useAppStore((s) => s.connectionError);
  const view = useAppStore((s) => s.view);
  const { logout, setView } = useAppActions();
  useMenuActions();

  if (session === 'unknown') return <p className="muted">{t('app.loading')}</p>;
  if (session === 'login-required') {
    return (
      <>
        <header className="app-header">
          <span className="brand">{t('app.title')}</span>
          <LanguagePicker />
        </header>
        <LoginView />
      </>
    );
  }
  return (
    <>
      <OsIconSprite />
      {/* Made inert by an open dialog (components/Dialog.tsx). */}
      <div className="app-body" data-behind-dialogs>
        <header className="app-header">
          <span className="brand">{t('app.title')}</span>
          <nav aria-label={t('app.pages')} className="pages">
            <button
              type="button"
              aria-current={view === 'library' ? 'page' : undefined}
              onClick={() => setView('library')}
            >
              {t('library.title')}
            </button>
            <button type="button" aria-current={view === 'host' ? 'page' : undefined} onClick={() => setView('host')}>
              {t('host.title')}
            </button>
          </nav>
          <LanguagePicker />
          {transportKind === 'web' && (
            <button type="button" onClick={() => void logout()}>
              {t('app.logout')}
            </button>
          )}
        </header>
        {connectionError && (
          <p role="status" className="error banner">
            {t('errors.disconnected', { reason: connectionError })}
          </p>
        )}
        {view === 'library' ? (
          <LibraryView />
        ) : (
          <Suspense fallback={<p className="muted">{t('app.loading')}</p>}>
            <HostCheckView />
          </Suspense>
        )}
      </div>
      <OpenDialog />
      <Notices />
    </>
  );
}
