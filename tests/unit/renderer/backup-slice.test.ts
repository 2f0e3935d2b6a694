// The backup slice of the page's real store (createAppStore): where Export… proposes to write
// (the backups folder next to the library), which service calls Export… and Import… make (a
// restore names the VM it replaces), and the imported VM selected afterwards. The control
// services under it are a recording object; the service itself runs against real QEMU in
// tests/integration/backup/backup.test.ts.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import { defaultArchivePath } from '../../../src-renderer/store/backup-slice';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmListEntry } from '../../../src-shared/contracts/library';

const VM = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const NEW = '0b9d8c7e-1111-4a4a-8b8b-222233334444';

function entry(id: string, name: string): VmListEntry {
  return { kind: 'ok', id, name, state: 'off', os: 'linux64', folder: `/h/maru/vms/${id}` } as unknown as VmListEntry;
}

function fake() {
  const calls: string[] = [];
  let vms: VmListEntry[] = [entry(VM, 'Web')];
  const services = {
    library: {
      list: async () => vms,
      show: async (id: string) => ({ config: { id, name: 'x' }, disks: [] }),
    },
    backup: {
      export: async (id: string, path: string, job?: JobOptions) => {
        calls.push(`export ${id} ${path}`);
        job?.onProgress?.({ phase: 'export', fraction: 1 });
        return { path, vmId: id, vmName: 'Web', bytes: 1, files: 1, seconds: 0.1, liveSnapshot: null, warnings: [] };
      },
      import: async (path: string, options: { name?: string; replace?: string }) => {
        calls.push(`import ${path} ${JSON.stringify(options)}`);
        const id = options.replace ?? NEW;
        if (!options.replace) vms = [...vms, entry(NEW, options.name ?? 'Web (2)')];
        return { vmId: id, name: 'Web (2)', replaced: options.replace ?? null, warnings: [] };
      },
    },
  };
  Object.assign(services, {
    appliances: {
      export: async (id: string, path: string) => {
        calls.push(`appliance export ${id} ${path}`);
        return { path, bytes: 42, files: ['Web.ovf', 'Web-disk001.vmdk', 'Web.mf'] };
      },
      import: async (path: string, options: { name?: string }) => {
        calls.push(`appliance import ${path} ${JSON.stringify(options)}`);
        vms = [...vms, entry(NEW, options.name ?? 'Debian')];
        return { vmId: NEW, name: options.name ?? 'Debian', warnings: ['A disk was on a SCSI controller.'] };
      },
    },
  });
  const store = createAppStore({
    services: services as unknown as ControlServices,
    session: 'authenticated',
    loaded: true,
  });
  return { calls, store };
}

describe('backup slice', () => {
  it('proposes $MARU_HOME/backups/NAME.maru, found from the VM folder (POSIX and Windows)', () => {
    expect(defaultArchivePath('/home/a/.local/share/maru/vms/' + VM, 'Web server')).toBe(
      '/home/a/.local/share/maru/backups/Web server.maru',
    );
    expect(defaultArchivePath(`C:\\Users\\a\\Maru\\vms\\${VM}`, 'a:b')).toBe('C:\\Users\\a\\Maru\\backups\\a_b.maru');
  });

  it('Export… calls backup.export with the path; Import… imports, then selects the new VM', async () => {
    const { calls, store } = fake();
    await store.getState().exportVm(VM, '/h/maru/backups/Web.maru');
    const r = await store.getState().importVm({ path: ' /h/maru/backups/Web.maru ', name: '  ' });
    expect(r.vmId).toBe(NEW);
    expect(store.getState().selectedId).toBe(NEW);
    expect(store.getState().vms.map((v) => v.id)).toEqual([VM, NEW]);
    // A restore names the VM it replaces; an empty name is left out (the service picks it).
    await store.getState().importVm({ path: '/b.maru', name: '', replaceId: VM });
    expect(calls).toEqual([
      `export ${VM} /h/maru/backups/Web.maru`,
      'import /h/maru/backups/Web.maru {}',
      `import /b.maru {"replace":"${VM}"}`,
    ]);
    expect(store.getState().selectedId).toBe(VM);
  });

  it('a path ending in .ova goes to the appliances service, both ways; the imported VM is selected', async () => {
    const { calls, store } = fake();
    const out = await store.getState().exportVm(VM, ' /h/maru/backups/Web.ova ');
    expect(out).toMatchObject({ path: '/h/maru/backups/Web.ova', bytes: 42, warnings: [] });
    const r = await store.getState().importVm({ path: '/h/in/Debian.OVA', name: 'Deb' });
    expect(r).toEqual({ vmId: NEW, name: 'Deb', replaced: null, warnings: ['A disk was on a SCSI controller.'] });
    expect(calls).toEqual([
      `appliance export ${VM} /h/maru/backups/Web.ova`,
      'appliance import /h/in/Debian.OVA {"name":"Deb"}',
    ]);
    expect(store.getState().selectedId).toBe(NEW);
  });

  it('a loose .ovf (its disk files beside it) imports as an appliance; an export is not written as one', async () => {
    const { calls, store } = fake();
    await store.getState().importVm({ path: ' /h/maru/backups/vmware/Web.ovf ' });
    await expect(store.getState().exportVm(VM, '/h/maru/backups/Web.ovf')).rejects.toThrow(
      /Maru writes appliances as one \.ova file; name it NAME\.ova/,
    );
    expect(calls).toEqual(['appliance import /h/maru/backups/vmware/Web.ovf {}']);
    expect(store.getState().selectedId).toBe(NEW);
  });
});
