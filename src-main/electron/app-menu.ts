// The application menu: the usual VM actions (they act on the VM selected in the window,
// which the renderer reports) plus the standard Edit / View / Window menus.
import { Menu, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';

export type VmMenuAction = 'new' | 'start' | 'stop' | 'pause' | 'reset' | 'settings' | 'ctrl-alt-del' | 'screenshot';

export const MENU_ACTION_CHANNEL = 'maru:menu-action';

export function installAppMenu(win: () => BrowserWindow | null, isMac: boolean): void {
  const send = (action: VmMenuAction) => () => win()?.webContents.send(MENU_ACTION_CHANNEL, action);
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'Machine',
      submenu: [
        { label: 'New…', accelerator: 'CmdOrCtrl+N', click: send('new') },
        { label: 'Settings…', accelerator: 'CmdOrCtrl+S', click: send('settings') },
        { type: 'separator' },
        { label: 'Start', click: send('start') },
        { label: 'Pause / Resume', accelerator: 'CmdOrCtrl+P', click: send('pause') },
        { label: 'Reset', accelerator: 'CmdOrCtrl+R', click: send('reset') },
        { label: 'ACPI Shutdown', accelerator: 'CmdOrCtrl+H', click: send('stop') },
        { type: 'separator' },
        { label: 'Send Ctrl+Alt+Del', accelerator: 'CmdOrCtrl+Delete', click: send('ctrl-alt-del') },
        { label: 'Take Screenshot', accelerator: 'CmdOrCtrl+E', click: send('screenshot') },
        ...(isMac ? [] : [{ type: 'separator' as const }, { role: 'quit' as const }]),
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
