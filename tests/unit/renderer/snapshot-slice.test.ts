// The snapshot slice of the page's real store (createAppStore): which service calls an action
// makes and in what order, what the Snapshots tab shows meanwhile and afterwards, and which
// `snapshots.changed` events read a tree again. The control services under it are a plain
// recording object (the services themselves run against real QEMU in their own tests and in
// tests/e2e/snapshots.spec.ts).
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { SnapshotInfo, SnapshotTree } from '../../../src-shared/contracts/snapshots';
import { AppError } from '../../../src-shared/errors';

const VM = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const OTHER = '0b9d8c7e-1111-4a4a-8b8b-222233334444';

function info(id: string, name: string, parentId: string | null): SnapshotInfo {
  return {
    id,
    name,
    description: '',
    parentId,
    createdAt: '2024-05-01T10:00:00.000Z',
    kind: 'live',
    config: {} as SnapshotInfo['config'],
    hasThumbnail: true,
    stateBytes: 1024,
  };
}

/** Services with one VM's snapshots in memory; `hold` keeps take open until released. */
function fakeServices() {
  const calls: string[] = [];
  let snapshots: SnapshotInfo[] = [];
  let currentId: string | null = null;
  let release: (() => void) | null = null;
  let hold = false;
  const tree = (vmId: string): SnapshotTree => ({
    vmId,
    snapshots,
    currentId,
    damaged: null,
    recovered: null,
    problems: [],
  });
  const services = {
    library: { list: async () => [], show: async () => ({}) },
    snapshots: {
      list: async (vmId: string) => {
        calls.push(`list ${vmId}`);
        return tree(vmId);
      },
      take: async (vmId: string, options: { name?: string }, job?: JobOptions) => {
        calls.push(`take ${options.name}`);
        job?.onProgress?.({ phase: 'save', fraction: 0.5 });
        if (hold) await new Promise<void>((r) => (release = r));
        const s = info(`id-${snapshots.length + 1}`, options.name ?? 'Snapshot', currentId);
        snapshots = [...snapshots, s];
        currentId = s.id;
        return s;
      },
      restore: async (vmId: string, id: string) => {
        calls.push(`restore ${id}`);
        currentId = id;
        return { tree: tree(vmId), state: 'running', message: 'back' };
      },
      delete: async (vmId: string, id: string) => {
        calls.push(`delete ${id}`);
        throw new AppError('BUSY', `VM "x" is taking a snapshot already; wait for it to finish, then try again.`);
      },
      edit: async () => ({}),
      thumbnail: async (_vmId: string, id: string) => {
        calls.push(`thumbnail ${id}`);
        return { png: 'iVBORw0KGgo=' };
      },
    },
  };
  return {
    calls,
    services: services as unknown as ControlServices,
    holdTakes: () => (hold = true),
    releaseTake: () => release?.(),
  };
}

function storeWithFake() {
  const fake = fakeServices();
  const store = createAppStore({ services: fake.services, session: 'authenticated', loaded: true });
  return { ...fake, store, s: () => store.getState() };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('snapshot slice', () => {
  it('reads a tree when its tab opens, and again on its own change events only while open', async () => {
    const { store, calls, s } = storeWithFake();
    const close = s().openSnapshots(VM);
    await flush();
    expect(calls).toEqual([`list ${VM}`]);
    expect(s().snapshotPanes[VM]?.tree?.snapshots).toEqual([]);

    store.getState().applyControlEvent({ type: 'snapshots.changed', vmId: OTHER });
    store.getState().applyControlEvent({ type: 'snapshots.changed', vmId: VM });
    await flush();
    expect(calls).toEqual([`list ${VM}`, `list ${VM}`]);

    close();
    store.getState().applyControlEvent({ type: 'snapshots.changed', vmId: VM });
    await flush();
    expect(calls).toHaveLength(2);
  });

  it('takes one operation at a time per VM; the tree and outcome come back together', async () => {
    const { calls, s, holdTakes, releaseTake } = storeWithFake();
    s().openSnapshots(VM);
    await flush();
    holdTakes();
    const first = s().takeSnapshot(VM, { name: 'One' });
    await flush();
    expect(s().snapshotBusy[VM]).toEqual({ op: 'take', phase: 'save', fraction: 0.5 });
    // A second operation while one runs is not sent.
    expect(await s().takeSnapshot(VM, { name: 'Two' })).toBe(false);
    releaseTake();
    expect(await first).toBe(true);
    expect(calls.filter((c) => c.startsWith('take'))).toEqual(['take One']);
    expect(s().snapshotBusy[VM]).toBeUndefined();
    expect(s().snapshotPanes[VM]?.tree?.snapshots.map((x) => x.name)).toEqual(['One']);
    expect(s().snapshotPanes[VM]?.message).toEqual({ key: 'snapshots.done.take', values: { name: 'One' } });
  });

  it('restore with "snapshot the current state first" takes, then restores', async () => {
    const { calls, s } = storeWithFake();
    s().openSnapshots(VM);
    await flush();
    await s().takeSnapshot(VM, { name: 'One' });
    calls.length = 0;
    expect(await s().restoreSnapshot(VM, 'id-1', { name: 'Snapshot 2' })).toBe(true);
    expect(calls.filter((c) => !c.startsWith('list'))).toEqual(['take Snapshot 2', 'restore id-1']);
    expect(s().snapshotPanes[VM]?.tree?.currentId).toBe('id-1');
    expect(s().snapshotPanes[VM]?.message?.key).toBe('snapshots.done.restore.running');
  });

  it("a server refusal is the pane's error, and the buttons come back", async () => {
    const { s } = storeWithFake();
    s().openSnapshots(VM);
    await flush();
    expect(await s().deleteSnapshot(VM, 'id-9')).toBe(false);
    expect(s().snapshotPanes[VM]?.error).toBe(
      'VM "x" is taking a snapshot already; wait for it to finish, then try again.',
    );
    expect(s().snapshotBusy[VM]).toBeUndefined();
  });

  it('asks for a thumbnail once and hands it back as a data: URL', async () => {
    const { calls, s } = storeWithFake();
    const a = await s().snapshotThumbnail(VM, 'id-1');
    const b = await s().snapshotThumbnail(VM, 'id-1');
    expect(a).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(b).toBe(a);
    expect(calls.filter((c) => c.startsWith('thumbnail'))).toEqual(['thumbnail id-1']);
  });

  it('a power button does nothing while the same VM saves its state; afterwards it works', async () => {
    const calls: string[] = [];
    let finishSave: (() => void) | null = null;
    const services = {
      library: { list: async () => [], show: async () => ({}) },
      vm: {
        saveState: async () => {
          calls.push('saveState');
          await new Promise<void>((r) => (finishSave = r));
          return { state: 'saved', forced: false, message: '' };
        },
        stop: async (_id: string, options: { force: boolean }) => {
          calls.push(`stop force=${options.force}`);
          return { state: 'off', forced: options.force, message: '' };
        },
      },
    } as unknown as ControlServices;
    const store = createAppStore({ services, session: 'authenticated', loaded: true });
    const saving = store.getState().saveVmState(VM);
    expect(store.getState().stateBusy[VM]).toBe('saveState');
    await store.getState().power(VM, 'forceStop');
    expect(calls).toEqual(['saveState']);
    expect(store.getState().powerBusy[VM]).toBeUndefined();
    finishSave!();
    await saving;
    await store.getState().power(VM, 'forceStop');
    expect(calls).toEqual(['saveState', 'stop force=true']);
  });
});
