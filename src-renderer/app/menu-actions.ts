// The desktop Machine menu's actions, carried out on the selected VM: the same store actions
// and control services the page's buttons use (start with its progress and cancel, ACPI
// shutdown, pause or resume, reset, Ctrl+Alt+Del, a screenshot saved as PNG).
import type { VmMenuAction } from '../../src-shared/contracts/menu';
import type { VmListEntry } from '../../src-shared/contracts/library';
import { selectSelectedVm, type AppStore } from '../store/app-store';
import { messageOf } from '../store/store-errors';
import { screenshotFileName } from './save-file';

export interface MenuActionDeps {
  readonly store: AppStore;
  /** Saves a file the action made (the page: a download through an anchor). */
  readonly saveFile: (blob: Blob, fileName: string) => void;
}

type OkEntry = Extract<VmListEntry, { kind: 'ok' }>;

const isOn = (vm: OkEntry) => vm.state === 'running' || vm.state === 'paused';

function pngBlob(base64: string): Blob {
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: 'image/png' });
}

/**
 * Carries out one menu action. Never throws: without a selected VM, or with one in the wrong
 * state, it says so in a notice; a failed call becomes an error notice.
 */
export async function runMenuAction(action: VmMenuAction, deps: MenuActionDeps): Promise<void> {
  const state = deps.store.getState();
  const { notify } = state;
  if (action === 'new') {
    state.openDialog({ kind: 'wizard', prefill: null });
    return;
  }
  const vm = selectSelectedVm(state);
  if (vm?.kind !== 'ok') {
    notify({ tone: 'warning', key: 'menu.noVm' });
    return;
  }
  if (action === 'settings') {
    state.openDialog({ kind: 'settings', vmId: vm.id });
    return;
  }
  if (action === 'start') {
    if (isOn(vm)) notify({ tone: 'warning', key: 'menu.alreadyRunning', values: { name: vm.name } });
    else await state.power(vm.id, 'start');
    return;
  }
  if (!isOn(vm)) {
    notify({ tone: 'warning', key: 'menu.notRunning', values: { name: vm.name } });
    return;
  }
  const services = state.services;
  if (!services) return;
  try {
    switch (action) {
      case 'pause':
        await state.power(vm.id, vm.state === 'paused' ? 'resume' : 'pause');
        break;
      case 'reset':
      case 'stop':
        await state.power(vm.id, action);
        break;
      case 'ctrl-alt-del':
        await services.vm.sendKeys(vm.id, { combos: [['ctrl', 'alt', 'delete']] });
        break;
      case 'screenshot': {
        const shot = await services.vm.screenshot(vm.id);
        const file = screenshotFileName(vm.name);
        deps.saveFile(pngBlob(shot.pngBase64), file);
        notify({ tone: 'info', key: 'menu.screenshotSaved', values: { name: vm.name, file } });
        break;
      }
    }
  } catch (err) {
    notify({ tone: 'error', key: 'errors.server', values: { message: messageOf(err) } });
  }
}
