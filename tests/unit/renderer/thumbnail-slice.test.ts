// The library rows' screens in the page's real store (createAppStore): one read at a time per
// VM, data: URLs, `snapshots.changed` reading a shown VM's screen again, and a screen no row
// shows forgotten once its VM's state moves on or the VM is gone. The control services under
// it are a recording object (vm.thumbnail itself runs against real QEMU in its integration test).
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { VmListEntry, VmPowerState } from '../../../src-shared/contracts/library';
import type { VmThumbnail } from '../../../src-shared/contracts/vm';

const VM = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const OTHER = '0b9d8c7e-1111-4a4a-8b8b-222233334444';

function entry(id: string, state: VmPowerState): VmListEntry {
  return {
    kind: 'ok',
    id,
    name: `vm ${id.slice(0, 4)}`,
    os: 'linux64',
    engine: 'qemu',
    cpus: 1,
    memoryMiB: 128,
    firmware: 'bios',
    state,
    folder: `/vms/${id}`,
  };
}

function storeWithScreens() {
  const calls: string[] = [];
  let answer: VmThumbnail | null | Error = { pngBase64: 'AAAA', live: true };
  const held: (() => void)[] = [];
  let hold = false;
  const services = {
    library: { list: async () => [], show: async () => ({}) },
    snapshots: { list: async (vmId: string) => ({ vmId, snapshots: [], currentId: null }) },
    vm: {
      thumbnail: async (vmId: string) => {
        calls.push(vmId);
        if (hold) await new Promise<void>((r) => held.push(r));
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
  } as unknown as ControlServices;
  const store = createAppStore({
    services,
    session: 'authenticated',
    loaded: true,
    vms: [entry(VM, 'running'), entry(OTHER, 'off')],
  });
  return {
    store,
    calls,
    s: () => store.getState(),
    answer: (a: VmThumbnail | null | Error) => (answer = a),
    hold: () => (hold = true),
    release: () => {
      hold = false;
      for (const r of held.splice(0)) r();
    },
    setState: (id: string, state: VmPowerState) =>
      store.getState().applyControlEvent({ type: 'vm.changed', vmId: id, state }),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('thumbnail slice', () => {
  it('reads a screen into a data: URL with the state it was read in; none → null (the OS icon)', async () => {
    const t = storeWithScreens();
    await t.s().loadVmThumbnail(VM);
    expect(t.s().vmThumbnails[VM]).toMatchObject({
      src: 'data:image/png;base64,AAAA',
      live: true,
      forState: 'running',
    });
    t.answer(null);
    await t.s().loadVmThumbnail(OTHER);
    expect(t.s().vmThumbnails[OTHER]).toMatchObject({ src: null, live: false, forState: 'off' });
  });

  it('one request at a time per VM: asked again meanwhile, it reads once more afterwards', async () => {
    const t = storeWithScreens();
    t.hold();
    const first = t.s().loadVmThumbnail(VM);
    const second = t.s().loadVmThumbnail(VM);
    const third = t.s().loadVmThumbnail(VM);
    await flush();
    expect(t.calls).toEqual([VM]);
    t.answer({ pngBase64: 'BBBB', live: true });
    t.release();
    await Promise.all([first, second, third]);
    expect(t.calls).toEqual([VM, VM]);
    expect(t.s().vmThumbnails[VM]?.src).toBe('data:image/png;base64,BBBB');
  });

  it('a failed read keeps what the row shows', async () => {
    const t = storeWithScreens();
    await t.s().loadVmThumbnail(VM);
    t.answer(new Error('The connection to the server closed.'));
    await t.s().loadVmThumbnail(VM);
    expect(t.s().vmThumbnails[VM]?.src).toBe('data:image/png;base64,AAAA');
  });

  it("snapshots.changed reads a shown VM's screen again, and forgets one no row shows", async () => {
    const t = storeWithScreens();
    const release = t.s().watchVmThumbnail(VM);
    await t.s().loadVmThumbnail(VM);
    await t.s().loadVmThumbnail(OTHER);
    t.calls.length = 0;
    t.answer({ pngBase64: 'CCCC', live: true });
    t.s().applyControlEvent({ type: 'snapshots.changed', vmId: VM });
    t.s().applyControlEvent({ type: 'snapshots.changed', vmId: OTHER });
    await flush();
    expect(t.calls).toEqual([VM]);
    expect(t.s().vmThumbnails[VM]?.src).toBe('data:image/png;base64,CCCC');
    expect(t.s().vmThumbnails[OTHER]).toBeUndefined();
    release();
  });

  it('a screen no row shows is forgotten when its state moves on; a shown one stays until re-read', async () => {
    const t = storeWithScreens();
    await t.s().loadVmThumbnail(OTHER);
    const release = t.s().watchVmThumbnail(VM);
    await t.s().loadVmThumbnail(VM);
    // Off → running → off while scrolled away: the last screen is a new one.
    t.setState(OTHER, 'running');
    expect(t.s().vmThumbnails[OTHER]).toBeUndefined();
    // The shown row keeps its picture through the change (no flash of the OS icon).
    t.setState(VM, 'off');
    expect(t.s().vmThumbnails[VM]?.forState).toBe('running');
    // Its row goes: the picture, now out of date, goes with it.
    release();
    expect(t.s().vmThumbnails[VM]).toBeUndefined();
  });

  it('a VM gone from the list loses its screen once no row shows it', async () => {
    const t = storeWithScreens();
    const release = t.s().watchVmThumbnail(VM);
    await t.s().loadVmThumbnail(VM);
    t.store.setState({ vms: [entry(OTHER, 'off')] });
    expect(t.s().vmThumbnails[VM]).toBeDefined();
    release();
    release();
    expect(t.s().vmThumbnails[VM]).toBeUndefined();
    // Nothing is read for a VM that is not in the list.
    t.calls.length = 0;
    await t.s().loadVmThumbnail(VM);
    expect(t.calls).toEqual([]);
  });
});
