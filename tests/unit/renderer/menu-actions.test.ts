// The desktop Machine menu's actions → what happens to the selected VM. The page's real store
// (createAppStore) runs each action; the control services under it are a plain recording
// object implementing the methods these actions use (this tests the mapping from menu item to
// service call, not the services: those have their own tests against real engines).
import { describe, expect, it } from 'vitest';
import { runMenuAction } from '../../../src-renderer/app/menu-actions';
import { createAppStore, type AppStore } from '../../../src-renderer/store/app-store';
import { VM_MENU_ACTIONS, type VmMenuAction } from '../../../src-shared/contracts/menu';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmListEntry, VmPowerState } from '../../../src-shared/contracts/library';
import { CancelledError } from '../../../src-shared/errors';

const VM_ID = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const PNG_BYTES = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function entry(state: VmPowerState): VmListEntry {
  return {
    kind: 'ok',
    id: VM_ID,
    name: 'Menu box',
    os: 'linux64',
    engine: 'auto',
    cpus: 1,
    memoryMiB: 512,
    firmware: 'bios',
    state,
    folder: `/tmp/maru/vms/${VM_ID}`,
  };
}

interface Call {
  readonly method: string;
  readonly args: unknown[];
}

/** Records every vm.* call; `start` can be held open to cancel it. */
function recordingServices(list: () => VmListEntry[], opts: { holdStart?: boolean } = {}) {
  const calls: Call[] = [];
  const record =
    (method: string, result: unknown = {}) =>
    async (...args: unknown[]) => {
      calls.push({ method, args });
      return result;
    };
  const services = {
    library: {
      list: async () => list(),
      show: async (id: string) => ({ config: { id }, state: 'off', disks: [] }),
    },
    vm: {
      start: async (id: string, job?: JobOptions) => {
        calls.push({ method: 'vm.start', args: [id, job] });
        job?.onProgress?.({ phase: 'launch', fraction: 0.2 });
        if (!opts.holdStart) return { vmId: id };
        return new Promise((_resolve, reject) =>
          job?.signal?.addEventListener('abort', () => reject(new CancelledError('Starting was cancelled.')), {
            once: true,
          }),
        );
      },
      stop: record('vm.stop'),
      pause: record('vm.pause'),
      resume: record('vm.resume'),
      reset: record('vm.reset'),
      sendKeys: record('vm.sendKeys', undefined),
      screenshot: record('vm.screenshot', {
        width: 640,
        height: 480,
        pngBase64: Buffer.from(PNG_BYTES).toString('base64'),
      }),
    },
  };
  return { calls, services: services as unknown as ControlServices };
}

function storeWith(state: VmPowerState | null, opts: { holdStart?: boolean } = {}) {
  const vms = state ? [entry(state)] : [];
  const { calls, services } = recordingServices(() => vms, opts);
  const store: AppStore = createAppStore({
    services,
    session: 'authenticated',
    vms,
    loaded: true,
    selectedId: state ? VM_ID : null,
  });
  const saved: { blob: Blob; fileName: string }[] = [];
  const deps = { store, saveFile: (blob: Blob, fileName: string) => saved.push({ blob, fileName }) };
  return { store, calls, saved, run: (action: VmMenuAction) => runMenuAction(action, deps) };
}

const noticeKeys = (store: AppStore) => store.getState().notices.map((n) => n.key);

describe('Machine menu actions on the selected VM', () => {
  it('New… opens the new-VM wizard (no VM needed)', async () => {
    const { store, calls, run } = storeWith(null);
    await run('new');
    expect(store.getState().dialog).toEqual({ kind: 'wizard', prefill: null });
    expect(calls).toEqual([]);
  });

  it("Settings… opens the selected VM's settings", async () => {
    const { store, calls, run } = storeWith('off');
    await run('settings');
    expect(store.getState().dialog).toEqual({ kind: 'settings', vmId: VM_ID });
    expect(calls).toEqual([]);
  });

  it('Start starts the selected VM with progress and a cancel signal', async () => {
    const { calls, run } = storeWith('off');
    await run('start');
    expect(calls.map((c) => c.method)).toEqual(['vm.start']);
    const [id, job] = calls[0]!.args as [string, JobOptions];
    expect(id).toBe(VM_ID);
    expect(typeof job.onProgress).toBe('function');
    expect(job.signal?.aborted).toBe(false);
  });

  it('ACPI Shutdown presses the power button (not a forced stop)', async () => {
    const { calls, run } = storeWith('running');
    await run('stop');
    expect(calls).toEqual([{ method: 'vm.stop', args: [VM_ID, { force: false }] }]);
  });

  it('Pause / Resume pauses a running VM and resumes a paused one', async () => {
    const running = storeWith('running');
    await running.run('pause');
    expect(running.calls).toEqual([{ method: 'vm.pause', args: [VM_ID] }]);
    const paused = storeWith('paused');
    await paused.run('pause');
    expect(paused.calls).toEqual([{ method: 'vm.resume', args: [VM_ID] }]);
  });

  it('Reset resets the VM', async () => {
    const { calls, run } = storeWith('running');
    await run('reset');
    expect(calls).toEqual([{ method: 'vm.reset', args: [VM_ID] }]);
  });

  it('Send Ctrl+Alt+Del presses the combo in the guest', async () => {
    const { calls, run } = storeWith('running');
    await run('ctrl-alt-del');
    expect(calls).toEqual([{ method: 'vm.sendKeys', args: [VM_ID, { combos: [['ctrl', 'alt', 'delete']] }] }]);
  });

  it("Take Screenshot saves the guest's screen as a PNG file named after the VM", async () => {
    const { store, calls, saved, run } = storeWith('running');
    await run('screenshot');
    expect(calls).toEqual([{ method: 'vm.screenshot', args: [VM_ID] }]);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.fileName).toMatch(/^Menu box-\d{4}-\d\d-\d\dT[\d-]+Z\.png$/);
    expect(saved[0]!.blob.type).toBe('image/png');
    expect(new Uint8Array(await saved[0]!.blob.arrayBuffer())).toEqual(PNG_BYTES);
    expect(noticeKeys(store)).toEqual(['menu.screenshotSaved']);
  });

  it('with no VM selected, every VM action says so and calls nothing', async () => {
    const vmActions = VM_MENU_ACTIONS.filter((a) => a !== 'new');
    expect(vmActions).toHaveLength(7);
    for (const action of vmActions) {
      const { store, calls, saved, run } = storeWith(null);
      await expect(run(action)).resolves.toBeUndefined();
      expect(calls, action).toEqual([]);
      expect(saved, action).toEqual([]);
      expect(store.getState().dialog, action).toBeNull();
      expect(noticeKeys(store), action).toEqual(['menu.noVm']);
    }
  });

  it('a VM that is off: the running-VM actions say it is not running', async () => {
    for (const action of ['stop', 'pause', 'reset', 'ctrl-alt-del', 'screenshot'] as const) {
      const { store, calls, run } = storeWith('off');
      await run(action);
      expect(calls, action).toEqual([]);
      expect(noticeKeys(store), action).toEqual(['menu.notRunning']);
    }
  });

  it('a start shows its progress; cancelling it says "Start cancelled" and leaves the VM off', async () => {
    const { store, calls, run } = storeWith('off', { holdStart: true });
    const started = run('start');
    await Promise.resolve();
    expect(store.getState().powerBusy[VM_ID]).toBe('start');
    expect(store.getState().startProgress[VM_ID]).toEqual({ phase: 'launch', fraction: 0.2 });
    store.getState().cancelStart(VM_ID);
    await started;
    const job = calls[0]!.args[1] as JobOptions;
    expect(job.signal?.aborted).toBe(true);
    expect(noticeKeys(store)).toEqual(['actions.startCancelled']);
    expect(store.getState().powerBusy[VM_ID]).toBeUndefined();
    expect(store.getState().startProgress[VM_ID]).toBeUndefined();
    expect(store.getState().vms[0]).toMatchObject({ state: 'off' });
  });
});
