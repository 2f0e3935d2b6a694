// The media manager's slice of the page's real store (createAppStore) and its row words: the list
// is read only while the dialog is open and again on a change event; release and remove call
// `services.media` with the medium's path, keep the outcome or the server's error, and read the
// list again. The control services under it are a recording object; the service itself runs
// against real files and qemu-img in tests/integration/disks/media-cli.test.ts.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import { fileName, mediumStatus, removeRefusal, usedNow, useText } from '../../../src-renderer/library/media-rows';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { MediaInventory, MediumEntry, MediumUse } from '../../../src-shared/contracts/media';
import { AppError } from '../../../src-shared/errors';

const VM = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';

function use(over: Partial<MediumUse> = {}): MediumUse {
  return { vmId: VM, vmName: 'Box', vmState: 'off', driveId: 'disk1', snapshot: null, via: null, ...over };
}

function medium(over: Partial<MediumEntry> = {}): MediumEntry {
  return {
    path: '/h/maru/disks/spare.qcow2',
    type: 'hdd',
    format: 'qcow2',
    virtualSizeBytes: 64 << 20,
    actualSizeBytes: 196_608,
    exists: true,
    location: 'imported',
    backingFile: null,
    usedBy: [],
    orphan: true,
    problem: null,
    ...over,
  };
}

function fake() {
  const calls: string[] = [];
  let inventory: MediaInventory = {
    media: [medium(), medium({ path: '/h/maru/vms/x/disk1.qcow2', location: 'vm', usedBy: [use()], orphan: false })],
    problems: [],
  };
  const services = {
    library: { list: async () => [] },
    media: {
      list: async () => {
        calls.push('list');
        return inventory;
      },
      release: async (p: string) => {
        calls.push(`release ${p}`);
        return { released: [{ vmId: VM, vmName: 'Box', driveId: 'disk1' }], notes: ['Snapshots still hold it.'] };
      },
      remove: async (p: string) => {
        calls.push(`remove ${p}`);
        if (p.includes('/vms/')) throw new AppError('BUSY', `${p} is in use by VM "Box" (drive disk1).`);
        inventory = { ...inventory, media: inventory.media.filter((m) => m.path !== p) };
        return { removed: p };
      },
    },
  };
  const store = createAppStore({ services: services as unknown as ControlServices, session: 'authenticated' });
  return { calls, store };
}

describe('media slice', () => {
  it('reads the list only while the media manager is open, and again on a change event', async () => {
    const { calls, store } = fake();
    store.getState().applyControlEvent({ type: 'library.changed' });
    expect(calls).toEqual([]);
    await store.getState().openMediaView();
    expect(store.getState().mediaView?.inventory?.media).toHaveLength(2);
    store.getState().applyControlEvent({ type: 'vm.changed', vmId: VM, state: 'running' });
    await store.getState().loadMedia();
    expect(calls.filter((c) => c === 'list').length).toBeGreaterThanOrEqual(2);
    store.getState().closeMediaView();
    const before = calls.length;
    store.getState().applyControlEvent({ type: 'library.changed' });
    expect(calls.length).toBe(before);
    expect(store.getState().mediaView).toBeNull();
  });

  it('release and remove keep their outcome; a refused remove keeps the server’s message', async () => {
    const { calls, store } = fake();
    await store.getState().openMediaView();
    expect(await store.getState().releaseMedium('/h/maru/vms/x/disk1.qcow2')).toBe(true);
    expect(store.getState().mediaView?.outcome).toMatchObject({
      op: 'release',
      result: { notes: ['Snapshots still hold it.'] },
    });
    expect(await store.getState().removeMedium('/h/maru/vms/x/disk1.qcow2')).toBe(false);
    expect(store.getState().mediaView?.actionError).toMatch(/in use by VM "Box"/);
    expect(store.getState().mediaView?.outcome).toBeNull();
    expect(await store.getState().removeMedium('/h/maru/disks/spare.qcow2')).toBe(true);
    const view = store.getState().mediaView!;
    expect(view).toMatchObject({ busy: null, actionError: null, outcome: { op: 'remove' } });
    expect(view.inventory?.media.map((m) => m.path)).toEqual(['/h/maru/vms/x/disk1.qcow2']);
    expect(calls.filter((c) => c !== 'list')).toEqual([
      'release /h/maru/vms/x/disk1.qcow2',
      'remove /h/maru/vms/x/disk1.qcow2',
      'remove /h/maru/disks/spare.qcow2',
    ]);
  });
});

describe('media rows', () => {
  it('status: missing and unreadable before in use, then orphan', () => {
    expect(mediumStatus(medium({ exists: false, orphan: false, usedBy: [use()], problem: 'gone' }))).toBe('missing');
    expect(mediumStatus(medium({ problem: 'It cannot be read as qcow2' }))).toBe('unreadable');
    expect(mediumStatus(medium({ usedBy: [use({ snapshot: { id: 's', name: 'before' } })], orphan: false }))).toBe(
      'inUse',
    );
    expect(mediumStatus(medium())).toBe('orphan');
  });

  it('Release only for a VM’s current settings; Remove only for an orphan, else why not', () => {
    expect(usedNow(medium({ usedBy: [use({ snapshot: { id: 's', name: 'a' } }), use({ via: '/o.qcow2' })] }))).toBe(
      false,
    );
    expect(usedNow(medium({ usedBy: [use()] }))).toBe(true);
    expect(removeRefusal(medium())).toBeNull();
    expect(removeRefusal(medium({ orphan: false, usedBy: [use()] }))).toBe('inUse');
    expect(removeRefusal(medium({ orphan: false, exists: false }))).toBe('missing');
    expect(removeRefusal(medium({ orphan: false, location: 'outside' }))).toBe('outside');
  });

  it('words a use by where it comes from; file names from POSIX and Windows paths', () => {
    expect(useText(use())).toEqual({ key: 'media.use.now', values: { vm: 'Box', drive: 'disk1' } });
    expect(useText(use({ snapshot: { id: 's', name: 'before' }, via: '/o' })).key).toBe('media.use.snapshotVia');
    expect(useText(use({ via: '/o' })).key).toBe('media.use.via');
    expect(fileName('/h/maru/disks/spare.qcow2')).toBe('spare.qcow2');
    expect(fileName('C:\\Maru\\disks\\a.vdi')).toBe('a.vdi');
  });
});
