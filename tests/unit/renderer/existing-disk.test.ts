// The new-VM wizard's "use an existing disk" (src-renderer/wizard/existing-disk.ts) with the
// page's real store over the real control services (in-process transport, temp MARU_HOME, real
// qemu-img): what the disk step asks for before Next, a VMDK imported then made the VM's disk
// (one job: check, import, config), a failed create keeping its copy and Create again using it,
// Cancel during the import leaving nothing, and a qcow2 used in place without an import. The
// disk step's field (DiskChoiceField) is rendered with React's server renderer from the same
// store: what it shows for an inspected VMDK, a refused file, a qcow2, in English and Korean.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { I18nextProvider } from 'react-i18next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServices, type ControlHost } from '../../../src-main/services/control-services';
import {
  createAroundExistingDisk,
  existingDiskProblem,
  NO_EXISTING_DISK,
  type ExistingDiskState,
  type ImportedCopy,
} from '../../../src-renderer/wizard/existing-disk';
import { createI18n } from '../../../src-renderer/i18n/i18n';
import { AppStoreProvider, createAppStore, type AppStore } from '../../../src-renderer/store/app-store';
import type { ControlTransport } from '../../../src-renderer/transport/control-transport';
import { DiskChoiceField, type DiskChoiceFieldProps } from '../../../src-renderer/wizard/ExistingDiskField';
import { LOCAL_USER_POLICY } from '../../../src-shared/contracts/access';
import { createControlClient, inProcessTransport, type ControlServices } from '../../../src-shared/contracts/control';
import type { DiskImageInfo } from '../../../src-shared/contracts/disks';
import type { JobProgress } from '../../../src-shared/contracts/jobs';
import { needsImport } from '../../../src-shared/disk-for-new-vm';
import { AppError } from '../../../src-shared/errors';

const MiB = 2 ** 20;
const haveTools = ['qemu-img', 'qemu-io'].every((t) => spawnSync('which', [t]).status === 0);
const SETTINGS = { os: 'linux64', engine: 'qemu', cpus: 1, memoryMiB: 256 } as const;

function tool(bin: string, ...args: string[]): void {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
}

function sameContents(a: string, b: string): void {
  const r = spawnSync('qemu-img', ['compare', a, b], { encoding: 'utf8' });
  expect(r.status, r.stdout + r.stderr).toBe(0);
}

describe.skipIf(!haveTools)("the wizard's existing disk, through the store and the real services", () => {
  let root: string;
  let home: string;
  let host: ControlHost;
  let services: ControlServices;
  let store: AppStore;
  let qcow2: string;
  let vmdk: string;
  const disksDir = () => path.join(home, 'disks');
  const inDisks = () => (existsSync(disksDir()) ? readdirSync(disksDir()).sort() : []);
  const deps = () => ({ disks: services.disks, createVm: store.getState().createVm });

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'maru-wizard-disk-'));
    home = path.join(root, 'home');
    host = createControlServices({ maruHome: home, env: { ...process.env, MARU_HOME: home } });
    services = createControlClient(inProcessTransport(host.services, host, LOCAL_USER_POLICY));
    store = createAppStore({ services, session: 'authenticated', loaded: true });
    qcow2 = path.join(root, 'installed.qcow2');
    tool('qemu-img', 'create', '-q', '-f', 'qcow2', qcow2, '24M');
    tool('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x6b 0 1M', '-c', 'write -P 0x2e 20M 1M', qcow2);
    vmdk = path.join(root, 'from-vmware.vmdk');
    tool('qemu-img', 'convert', '-f', 'qcow2', '-O', 'vmdk', qcow2, vmdk);
  });

  afterAll(() => {
    host?.dispose();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('Next on the disk step needs a path, then an inspection, then a usable image', async () => {
    expect(existingDiskProblem(NO_EXISTING_DISK)).toBe('path');
    const typed = { ...NO_EXISTING_DISK, path: vmdk };
    expect(existingDiskProblem(typed)).toBe('inspect');
    const notes = path.join(root, 'notes.txt');
    writeFileSync(notes, 'not a disk\n'.repeat(100));
    const refused = await services.disks.inspect(notes);
    expect(refused.importProblem).not.toBeNull();
    expect(existingDiskProblem({ ...typed, path: notes, info: refused })).toBe('refused');
    const info = await services.disks.inspect(vmdk);
    expect(existingDiskProblem({ ...typed, info })).toBeNull();
    expect(needsImport(info)).toBe(true);
    expect(needsImport(await services.disks.inspect(qcow2))).toBe(false);
  });

  it('a VMDK is imported, then the VM is made around the copy — one job, the new VM selected', async () => {
    const info = await services.disks.inspect(vmdk);
    const phases = new Set<string>();
    const copies: ImportedCopy[] = [];
    const result = await createAroundExistingDisk(
      deps(),
      { ...SETTINGS, name: 'From VMware' },
      info,
      null,
      { onProgress: (p: JobProgress) => phases.add(p.phase) },
      (c) => copies.push(c),
    );
    expect([...phases]).toEqual(['check', 'import', 'config']);
    expect(copies).toEqual([{ source: vmdk, path: path.join(disksDir(), 'From VMware.qcow2') }]);
    const disk = result.vm.disks[0]!;
    expect(path.dirname(disk.path)).toBe(path.join(result.vm.folder, 'disks'));
    sameContents(vmdk, disk.path);
    expect(inDisks()).toEqual([]);
    expect(store.getState().vms.some((v) => v.id === result.vm.config.id)).toBe(true);
    expect(store.getState().selectedId).toBe(result.vm.config.id);
  });

  it('a create that fails after the import keeps the copy, and Create again uses it without importing again', async () => {
    const info = await services.disks.inspect(vmdk);
    let copy: ImportedCopy | null = null;
    // "From VMware" exists: the import runs, then the create is refused.
    const err = await createAroundExistingDisk(deps(), { ...SETTINGS, name: 'from vmware' }, info, null, {}, (c) => {
      copy = c;
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('ALREADY_EXISTS');
    expect(copy).not.toBeNull();
    const kept = copy!;
    expect(inDisks()).toEqual([path.basename(kept.path)]);
    sameContents(vmdk, kept.path);

    const phases = new Set<string>();
    const again: ImportedCopy[] = [];
    const result = await createAroundExistingDisk(
      deps(),
      { ...SETTINGS, name: 'second try' },
      info,
      kept,
      { onProgress: (p) => phases.add(p.phase) },
      (c) => again.push(c),
    );
    expect(again).toEqual([]);
    expect(phases.has('import')).toBe(false);
    expect(path.basename(result.vm.disks[0]!.path)).toBe(path.basename(kept.path));
    expect(inDisks()).toEqual([]);
  });

  it('Cancel during the import leaves no copy and no VM', async () => {
    const info = await services.disks.inspect(vmdk);
    const before = (await services.library.list()).length;
    const controller = new AbortController();
    const err = await createAroundExistingDisk(
      deps(),
      { ...SETTINGS, name: 'cancelled' },
      info,
      null,
      { signal: controller.signal, onProgress: () => controller.abort() },
      () => undefined,
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as AppError).code).toBe('CANCELLED');
    expect(inDisks()).toEqual([]);
    expect(await services.library.list()).toHaveLength(before);
  });

  it('a standalone qcow2 is used where it is, with no import', async () => {
    const info = await services.disks.inspect(qcow2);
    const phases = new Set<string>();
    const result = await createAroundExistingDisk(
      deps(),
      { ...SETTINGS, name: 'in place' },
      info,
      null,
      { onProgress: (p) => phases.add(p.phase) },
      () => undefined,
    );
    expect([...phases]).toEqual(['config']);
    expect(result.vm.config.disks[0]).toEqual({
      id: 'disk0',
      file: realpathSync(qcow2),
      bus: 'virtio',
      sizeBytes: 24 * MiB,
      userAttached: true,
    });
    expect(inDisks()).toEqual([]);
  });

  describe('the disk step as it renders', () => {
    /** The field's markup in `lang` for a store that is the web console's or the desktop's (with a file picker). */
    function render(lang: 'en' | 'ko', kind: 'web' | 'electron', props: Partial<DiskChoiceFieldProps>): string {
      const transport = kind === 'electron' ? ({ kind, pathOfFile: () => '' } as unknown as ControlTransport) : null;
      const page = createAppStore({ services, transport, transportKind: kind, session: 'authenticated' });
      const field = createElement(DiskChoiceField, {
        newDiskField: createElement('p', null, 'SIZE SLIDER'),
        choice: 'existing',
        onChoice: () => undefined,
        disk: NO_EXISTING_DISK,
        onPath: () => undefined,
        onInspect: () => undefined,
        showProblem: false,
        ...props,
      });
      return renderToStaticMarkup(
        createElement(
          I18nextProvider,
          { i18n: createI18n(lang) },
          createElement(AppStoreProvider, { value: page }, field),
        ),
      );
    }
    const inspected = (info: DiskImageInfo): ExistingDiskState => ({ ...NO_EXISTING_DISK, path: info.path, info });

    it('"Create a new disk" shows the size field; "Use an existing disk" the path, and the picker on the desktop only', () => {
      const fresh = render('en', 'web', { choice: 'new' });
      expect(fresh).toContain('SIZE SLIDER');
      expect(fresh).toMatch(/<input type="radio" name="diskChoice" checked="" value="new"\/>Create a new disk/);
      expect(fresh).not.toContain('Disk image file');
      const web = render('en', 'web', {});
      expect(web).not.toContain('SIZE SLIDER');
      expect(web).toContain('Disk image file');
      expect(web).toContain('A path on the server, in Maru’s disks folder');
      expect(web).not.toContain('Choose a file…');
      const desktop = render('en', 'electron', {});
      expect(desktop).toContain('Choose a file…');
      expect(desktop).toContain('data-testid="wizard-disk-input"');
      expect(desktop).toContain('A qcow2, VDI, VMDK, VHD, VHDX or raw disk image on this computer');
    });

    it("shows an inspected VMDK's format and size and that it is imported first; a qcow2 is used as it is", async () => {
      const vmdkInfo = await services.disks.inspect(vmdk);
      const en = render('en', 'web', { disk: inspected(vmdkInfo) });
      expect(en).toContain('<dd>VMDK (monolithicSparse)</dd>');
      expect(en).toContain('<dd>24 MiB</dd>');
      expect(en).toContain('This VMDK image is imported as a qcow2 copy into Maru’s disks folder first');
      const ko = render('ko', 'web', { disk: inspected(vmdkInfo) });
      expect(ko).toContain('이 VMDK 이미지는 먼저 마루의 디스크 폴더에 qcow2 사본으로 가져옵니다');
      expect(ko).toContain('기존 디스크 사용');
      const qcow2Info = await services.disks.inspect(qcow2);
      expect(render('en', 'web', { disk: inspected(qcow2Info) })).toContain(
        'The new VM uses this disk and boots from it first.',
      );
    });

    it('a file that is no disk image shows why (from the server), and Next names the problem', async () => {
      const notes = path.join(root, 'readme.txt');
      writeFileSync(notes, 'hello\n'.repeat(50));
      const info = await services.disks.inspect(notes);
      const html = render('en', 'web', { disk: inspected(info), showProblem: true });
      expect(html).toContain('Maru says:');
      expect(html).toContain('This file cannot be a VM’s disk (the reason is above)');
      expect(html).toContain('aria-invalid="true"');
      expect(render('en', 'web', { disk: { ...NO_EXISTING_DISK, path: notes }, showProblem: true })).toContain(
        'Inspect the disk image first.',
      );
    });
  });
});
