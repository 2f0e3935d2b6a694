// The application menu: the Machine menu sends each VM action (VM_MENU_ACTIONS) to the page,
// which carries it out on the selected VM through the control services; plus Edit / View /
// Window. No Reload (Ctrl+R is Reset here) and nothing on Cmd+H (macOS's Hide).
import { Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';
import { IPC_CHANNELS } from '../../src-shared/contracts/ipc-channels';
import type { VmMenuAction } from '../../src-shared/contracts/menu';

const MACHINE_ITEMS: Record<VmMenuAction, { label: string; accelerator?: string }> = {
  new: { label: 'New…', accelerator: 'CmdOrCtrl+N' },
  settings: { label: 'Settings…', accelerator: 'CmdOrCtrl+S' },
  start: { label: 'Start', accelerator: 'CmdOrCtrl+Shift+S' },
  pause: { label: 'Pause / Resume', accelerator: 'CmdOrCtrl+P' },
  reset: { label: 'Reset', accelerator: 'CmdOrCtrl+R' },
  stop: { label: 'ACPI Shutdown', accelerator: 'CmdOrCtrl+Shift+H' },
  'ctrl-alt-del': { label: 'Send Ctrl+Alt+Del', accelerator: 'CmdOrCtrl+Delete' },
  screenshot: { label: 'Take Screenshot', accelerator: 'CmdOrCtrl+E' },
};

const MACHINE_GROUPS: readonly (readonly VmMenuAction[])[] = [
  ['new', 'settings'],
  ['start', 'pause', 'reset', 'stop'],
  ['ctrl-alt-del', 'screenshot'],
];

export function installAppMenu(win: () => BrowserWindow | null, options: { isMac: boolean; devTools: boolean }): void {
  const item = (action: VmMenuAction): MenuItemConstructorOptions => ({
    ...MACHINE_ITEMS[action],
    id: `machine.${action}`,
    click: () => {
      const w = win();
      if (w && !w.isDestroyed()) w.webContents.send(IPC_CHANNELS.menuAction, action);
    },
  });
  const machine: MenuItemConstructorOptions[] = MACHINE_GROUPS.flatMap((group, i) => [
    ...(i > 0 ? [{ type: 'separator' as const }] : []),
    ...group.map(item),
  ]);
  const template: MenuItemConstructorOptions[] = [
    ...(options.isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'Machine',
      submenu: [...machine, ...(options.isMac ? [] : [{ type: 'separator' as const }, { role: 'quit' as const }])],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
        ...(options.devTools ? [{ role: 'toggleDevTools' as const }] : []),
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
