// The storage slice of the page's real store over the real control services (in-process
// transport, a temp MARU_HOME): the Storage part of the settings dialog lists a VM's drives,
// adds a disk and a floppy drive, puts a floppy in it, removes a drive (the notice says where the
// disk's file stayed), and keeps a refusal's message in place with nothing changed.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import { createFloppyImage } from '../../../src-emulator/media/floppy-image';
import { createAppStore } from '../../../src-renderer/store/app-store';
import { LOCAL_USER_POLICY } from '../../../src-shared/contracts/access';
import { createControlClient, inProcessTransport } from '../../../src-shared/contracts/control';

let home: string;
let host: ControlHost;
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'maru-storage-slice-'));
  host = createControlServices({ maruHome: home });
});
afterEach(async () => {
  host.dispose();
  await rm(home, { recursive: true, force: true });
});

describe('storage slice', () => {
  it('lists, adds, fills and removes drives through the services; a refusal stays in place', async () => {
    const services = createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    const { vm } = await services.library.create({ name: 'dos', os: 'dos', diskGiB: 0.01 });
    const id = vm.config.id;
    const store = createAppStore({ services, session: 'authenticated', loaded: true });
    const s = () => store.getState();

    await s().loadStorage(id);
    expect(s().storageView?.data?.drives.map((d) => `${d.id} ${d.type} ${d.slot}`)).toEqual([
      'disk0 hdd IDE primary master',
      'cd0 dvd IDE secondary master',
      'fd0 fdd floppy A:',
    ]);

    expect(await s().attachDrive(id, { type: 'hdd', bus: 'ide', createBytes: 1024 * 1024 })).toBe(true);
    expect(s().storageView?.data?.drives.find((d) => d.id === 'disk1')?.slot).toBe('IDE primary slave');
    expect(s().notices.map((n) => n.key)).toContain('storage.attached');

    const floppy = path.join(home, 'a.img');
    await createFloppyImage(floppy, '1.44M');
    expect(await s().setDriveMedium(id, 'fd0', floppy)).toBe(true);
    expect(s().storageView?.data?.drives.find((d) => d.id === 'fd0')?.medium).toBe(floppy);
    expect(s().notices.map((n) => n.key)).toContain('storage.inserted');

    // A fifth IDE drive: refused, the message kept for the list, nothing changed.
    await s().attachDrive(id, { type: 'hdd', bus: 'ide', createBytes: 1024 * 1024 });
    expect(await s().attachDrive(id, { type: 'dvd', bus: 'ide', medium: null })).toBe(false);
    expect(s().storageView?.error).toMatch(/two IDE channels hold 4 devices/);
    expect(s().storageView?.data?.drives).toHaveLength(5);
    const bad = path.join(home, 'bad.img');
    await writeFile(bad, Buffer.alloc(4096));
    expect(await s().setDriveMedium(id, 'fd0', bad)).toBe(false);
    expect(s().storageView?.error).toMatch(/is not a floppy image/);

    expect(await s().detachDrive(id, 'disk1')).toBe(true);
    const kept = s().notices.find((n) => n.key === 'storage.detachedKept');
    expect(kept?.values).toMatchObject({ drive: 'disk1', file: path.join(vm.folder, 'disks', 'disk1.qcow2') });
    expect(s().storageView?.data?.drives.map((d) => d.id)).toEqual(['disk0', 'disk2', 'cd0', 'fd0']);
    expect(s().storageView?.busy).toBe(false);

    s().clearStorage();
    expect(s().storageView).toBeNull();
  });
});
