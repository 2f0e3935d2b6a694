// The desktop application menu's VM actions: main's Machine menu sends one of these to the
// page, which carries it out on the selected VM through the control services.

export const VM_MENU_ACTIONS = [
  'new',
  'settings',
  'start',
  'pause',
  'reset',
  'stop',
  'ctrl-alt-del',
  'screenshot',
] as const;

export type VmMenuAction = (typeof VM_MENU_ACTIONS)[number];

export function isVmMenuAction(v: unknown): v is VmMenuAction {
  return typeof v === 'string' && (VM_MENU_ACTIONS as readonly string[]).includes(v);
}
