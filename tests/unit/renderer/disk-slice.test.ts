// The disk slice of the page's real store (createAppStore): which `disks` calls Grow, Compact and
// Import a disk make, what the Disks list and the import dialog show meanwhile (progress) and
// afterwards (outcome, warnings, the server's error in place), and that Cancel aborts the job's
// signal. The control services under it are a plain recording object (the service itself runs
// against real qemu-img in tests/unit/services and tests/integration).
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../src-renderer/store/app-store';
import type { ControlServices } from '../../../src-shared/contracts/control';
import type { DiskImageInfo, DiskImportOptions } from '../../../src-shared/contracts/disks';
import type { JobOptions } from '../../../src-shared/contracts/jobs';
import type { VmListEntry } from '../../../src-shared/contracts/library';
import { AppError, CancelledError } from '../../../src-shared/errors';

const VM = '6f1c2a52-3d8e-4b6a-9d0e-2f5c8a7b9e10';
const GIB = 1024 ** 3;

const vms = [{ kind: 'ok', id: VM, name: 'Web', state: 'off', os: 'linux64' } as unknown as VmListEntry];

function image(path: string, patch: Partial<DiskImageInfo> = {}): DiskImageInfo {
  return {
    path,
    format: 'vdi',
    subformat: null,
    virtualSizeBytes: 8 * GIB,
    actualSizeBytes: 2 * GIB,
    backingFile: null,
    snapshots: [],
    files: [path],
    importProblem: null,
    ...patch,
  };
}

/**
 * `disks` services over one VM with one disk of 8 GiB. Every job reports progress; the next job
 * after `hold()` then waits until released or until its signal aborts (then it rejects as the
 * server does: CANCELLED).
 */
function fakeServices() {
  const calls: string[] = [];
  const signals: JobOptions['signal'][] = [];
  let size = 8 * GIB;
  let hold = false;
  let release: (() => void) | null = null;
  let refuse: AppError | null = null;

  async function held(job: JobOptions | undefined, phase: string): Promise<void> {
    signals.push(job?.signal);
    job?.onProgress?.({ phase, fraction: 0.4 });
    if (refuse) throw refuse;
    if (!hold) return;
    hold = false;
    await new Promise<void>((resolve, reject) => {
      release = resolve;
      job?.signal?.addEventListener('abort', () => reject(new CancelledError(`${phase} was cancelled.`)), {
        once: true,
      });
    });
  }

  const services = {
    library: {
      list: async () => {
        calls.push('list');
        return vms;
      },
      show: async (id: string) => {
        calls.push(`show ${id}`);
        return { config: { id, name: 'Web' }, state: 'off', disks: [{ id: 'disk0', virtualSizeBytes: size }] };
      },
    },
    disks: {
      resize: async (vmId: string, diskIndex: number, newSize: number, job?: JobOptions) => {
        calls.push(`resize ${vmId} ${diskIndex} ${newSize}`);
        await held(job, 'resize');
        const old = size;
        size = newSize;
        return {
          vmId,
          diskId: 'disk0',
          path: '/vms/disk0.qcow2',
          oldSizeBytes: old,
          newSizeBytes: newSize,
          warnings: ['The new size (2 TiB) is more than the free space on the host disk (40 GiB).'],
        };
      },
      compact: async (vmId: string, diskIndex: number, job?: JobOptions) => {
        calls.push(`compact ${vmId} ${diskIndex}`);
        await held(job, 'compact');
        return {
          vmId,
          diskId: 'disk0',
          path: '/vms/disk0.qcow2',
          bytesBefore: 5 * GIB,
          bytesAfter: 2 * GIB,
          replaced: true,
        };
      },
      inspect: async (path: string) => {
        calls.push(`inspect ${path}`);
        if (refuse) throw refuse;
        return image(path);
      },
      import: async (path: string, options: DiskImportOptions, job?: JobOptions) => {
        calls.push(`import ${path} ${JSON.stringify(options)}`);
        await held(job, 'import');
        return {
          path: `/home/u/.maru/disks/${options.name ?? 'old'}.qcow2`,
          image: image('/home/u/.maru/disks/old.qcow2', { format: 'qcow2' }),
          source: image(path),
          seconds: 1.25,
          warnings: [],
        };
      },
    },
  };
  return {
    calls,
    signals,
    services: services as unknown as ControlServices,
    hold: () => (hold = true),
    release: () => release?.(),
    refuseWith: (err: AppError | null) => (refuse = err),
  };
}

function storeWithFake() {
  const fake = fakeServices();
  const store = createAppStore({ services: fake.services, session: 'authenticated', loaded: true, vms });
  return { fake, store, s: () => store.getState() };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('disk slice: grow and compact', () => {
  it('grow shows its progress, then the new sizes and the service’s warnings, with the details read again', async () => {
    const { fake, s } = storeWithFake();
    await s().select(VM);
    fake.hold();
    const growing = s().growDisk(VM, 0, 2048 * GIB);
    await settle();
    expect(s().diskBusy[VM]).toEqual({ op: 'grow', diskIndex: 0, phase: 'resize', fraction: 0.4 });
    // One disk operation per VM: a second one is not sent meanwhile.
    expect(await s().compactDisk(VM, 0)).toBe(false);
    fake.release();
    expect(await growing).toBe(true);
    expect(fake.calls.filter((c) => c.startsWith('resize') || c.startsWith('compact'))).toEqual([
      `resize ${VM} 0 ${2048 * GIB}`,
    ]);
    expect(s().diskBusy[VM]).toBeUndefined();
    expect(s().diskNotes[VM]).toEqual({
      op: 'grow',
      diskIndex: 0,
      error: null,
      cancelled: false,
      outcome: {
        op: 'grow',
        diskId: 'disk0',
        oldSizeBytes: 8 * GIB,
        newSizeBytes: 2048 * GIB,
        warnings: ['The new size (2 TiB) is more than the free space on the host disk (40 GiB).'],
      },
    });
    // The library and the details were read after the change: the list shows the new size.
    expect(fake.calls.slice(-2)).toEqual(['list', `show ${VM}`]);
    expect(s().details?.disks[0]?.virtualSizeBytes).toBe(2048 * GIB);
  });

  it('Cancel aborts the job’s signal; the note says the disk is as it was', async () => {
    const { fake, s } = storeWithFake();
    fake.hold();
    const compacting = s().compactDisk(VM, 0);
    await settle();
    expect(s().diskBusy[VM]?.op).toBe('compact');
    expect(fake.signals[0]?.aborted).toBe(false);
    s().cancelDiskOp(VM);
    expect(fake.signals[0]?.aborted).toBe(true);
    expect(await compacting).toBe(false);
    expect(s().diskBusy[VM]).toBeUndefined();
    expect(s().diskNotes[VM]).toEqual({ op: 'compact', diskIndex: 0, outcome: null, error: null, cancelled: true });
  });

  it('a server refusal is kept in place as its message, and the buttons come back', async () => {
    const { fake, s } = storeWithFake();
    const why =
      'Disk disk0 of VM "Web" holds 2 internal snapshots (a, b). Compacting writes a new copy of the disk, and a copy holds only the current state.';
    fake.refuseWith(new AppError('UNSUPPORTED', why));
    expect(await s().compactDisk(VM, 0)).toBe(false);
    expect(s().diskNotes[VM]).toMatchObject({ op: 'compact', diskIndex: 0, error: why, outcome: null });
    expect(s().diskBusy[VM]).toBeUndefined();
    // The next operation starts clean.
    fake.refuseWith(null);
    expect(await s().compactDisk(VM, 0)).toBe(true);
    expect(s().diskNotes[VM]).toMatchObject({
      error: null,
      outcome: { op: 'compact', bytesBefore: 5 * GIB, bytesAfter: 2 * GIB, replaced: true },
    });
    s().dismissDiskNote(VM);
    expect(s().diskNotes[VM]).toBeUndefined();
  });

  it('is not sent while a power action runs on the VM', async () => {
    const { fake, store, s } = storeWithFake();
    store.setState({ powerBusy: { [VM]: 'start' } });
    expect(await s().growDisk(VM, 0, 16 * GIB)).toBe(false);
    expect(fake.calls.some((c) => c.startsWith('resize'))).toBe(false);
  });
});

describe('disk slice: import a disk', () => {
  it('Inspect shows what the file is, or the server’s error in place', async () => {
    const { fake, s } = storeWithFake();
    const info = await s().inspectDiskImage('/isos/old.vdi');
    expect(info?.format).toBe('vdi');
    expect(s().diskImport).toMatchObject({ busy: null, inspected: { path: '/isos/old.vdi', format: 'vdi' } });
    fake.refuseWith(new AppError('NOT_FOUND', 'The file /isos/gone.vdi does not exist.'));
    expect(await s().inspectDiskImage('/isos/gone.vdi')).toBeNull();
    expect(s().diskImport).toMatchObject({
      busy: null,
      inspected: null,
      error: 'The file /isos/gone.vdi does not exist.',
    });
  });

  it('Import reports progress and ends with the new path; an empty name is left to the service', async () => {
    const { fake, s } = storeWithFake();
    fake.hold();
    const importing = s().importDisk({ path: '/isos/old.vdi', name: '  ' });
    await settle();
    expect(s().diskImport.busy).toBe('import');
    expect(s().diskImport.progress).toEqual({ phase: 'import', fraction: 0.4 });
    // One import at a time.
    expect(await s().importDisk({ path: '/isos/other.vdi' })).toBeNull();
    fake.release();
    const result = await importing;
    expect(result?.path).toBe('/home/u/.maru/disks/old.qcow2');
    expect(fake.calls.filter((c) => c.startsWith('import'))).toEqual(['import /isos/old.vdi {}']);
    expect(s().diskImport).toMatchObject({ busy: null, progress: null, error: null, result: { seconds: 1.25 } });

    await s().importDisk({ path: '/isos/disk.dd', name: ' Old disk ', sourceFormat: 'raw' });
    expect(fake.calls.at(-1)).toBe('import /isos/disk.dd {"name":"Old disk","sourceFormat":"raw"}');
  });

  it('Cancel aborts the import’s signal; a refusal is the dialog’s error', async () => {
    const { fake, s } = storeWithFake();
    fake.hold();
    const importing = s().importDisk({ path: '/isos/old.vdi' });
    await settle();
    s().cancelDiskImport();
    expect(fake.signals[0]?.aborted).toBe(true);
    expect(await importing).toBeNull();
    expect(s().diskImport).toMatchObject({ busy: null, cancelled: true, error: null, result: null });

    const why =
      '/home/u/.maru/disks/old.qcow2 already exists; import under another name (--name), or remove that disk first.';
    fake.refuseWith(new AppError('ALREADY_EXISTS', why));
    expect(await s().importDisk({ path: '/isos/old.vdi' })).toBeNull();
    expect(s().diskImport).toMatchObject({ busy: null, cancelled: false, error: why });
    s().resetDiskImport();
    expect(s().diskImport).toMatchObject({ error: null, inspected: null, result: null });
  });
});
