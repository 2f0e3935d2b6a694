// The QMP client against a real QEMU (no guest, stopped CPUs): greeting and negotiation,
// typed commands and errors, STOP/RESUME events, snapshot jobs to completion and a failing
// one, screendump, CD/DVD media changes with tray events, reconnect after a dropped socket.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePpm } from '../../../src-emulator/display/ppm-decoder';
import { QmpClient, QmpError, openQmpWhenReady } from '../../../src-emulator/engines/qemu/qmp-client';
import { MEDIA, canRun } from './qemu-test-kit';

describe.skipIf(!canRun)('QmpClient against QEMU 7.2', () => {
  let dir = '';
  let qemu: ChildProcess;
  let qmp: QmpClient;
  let disk = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'maru-qmp-'));
    disk = path.join(dir, 'disk.qcow2');
    expect(spawnSync('qemu-img', ['create', '-f', 'qcow2', disk, '64M']).status).toBe(0);
    qemu = spawn(
      'qemu-system-x86_64',
      [
        '-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'q35', '-accel', 'tcg', '-m', '64', '-S',
        '-blockdev', `driver=file,node-name=disk0-file,filename=${disk}`,
        '-blockdev', 'driver=qcow2,node-name=disk0,file=disk0-file',
        '-device', 'ide-hd,drive=disk0,bus=ide.0',
        '-device', 'ide-cd,id=cd0,bus=ide.1',
        '-device', 'VGA',
        '-chardev', `socket,id=qmp,path=${path.join(dir, 'qmp.sock')},server=on,wait=off`,
        '-mon', 'chardev=qmp,mode=control',
      ], // prettier-ignore
      { stdio: 'ignore' },
    );
    qmp = await openQmpWhenReady(path.join(dir, 'qmp.sock'), { deadlineMs: 20_000 });
  });
  afterAll(async () => {
    qmp?.dispose();
    qemu?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('negotiated, and answers typed commands', async () => {
    expect(qmp.state).toBe('ready');
    expect(qmp.greeting?.QMP.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
    await expect(qmp.execute('blockdev-remove-medium', { id: 'nope' })).rejects.toMatchObject({
      qmpClass: 'DeviceNotFound',
      message: "Device 'nope' not found",
      command: 'blockdev-remove-medium',
    });
  });

  it('reports RESUME and STOP', async () => {
    const resumed = qmp.waitForEvent('RESUME', () => true, 5000);
    await qmp.execute('cont');
    await resumed.promise;
    const stopped = qmp.waitForEvent('STOP', () => true, 5000);
    await qmp.execute('stop');
    await stopped.promise;
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'paused' });
  });

  it('runs snapshot jobs to completion, and reports a failing one', async () => {
    await qmp.runJob('snapshot-save', { tag: 'one', vmstate: 'disk0', devices: ['disk0'] });
    const info = JSON.parse(
      spawnSync('qemu-img', ['info', '-U', '--output=json', disk], { encoding: 'utf8' }).stdout,
    ) as {
      snapshots?: { name: string }[];
    };
    expect(info.snapshots?.map((s) => s.name)).toEqual(['one']);
    await qmp.runJob('snapshot-load', { tag: 'one', vmstate: 'disk0', devices: ['disk0'] });
    await expect(
      qmp.runJob('snapshot-save', { tag: 'one', vmstate: 'disk0', devices: ['disk0'] }),
    ).rejects.toMatchObject({
      qmpClass: 'JobFailed',
      message: expect.stringMatching(/already exists/),
    });
    await qmp.runJob('snapshot-delete', { tag: 'one', devices: ['disk0'] });
    await expect(
      qmp.runJob('snapshot-load', { tag: 'one', vmstate: 'disk0', devices: ['disk0'] }),
    ).rejects.toBeInstanceOf(QmpError);
    expect(await qmp.execute('query-jobs')).toEqual([]);
  });

  it('dumps the screen as PPM', async () => {
    const file = path.join(dir, 'screen.ppm');
    await qmp.execute('screendump', { filename: file });
    const img = decodePpm(await readFile(file));
    expect(img.width).toBeGreaterThan(0);
    expect(img.data.length).toBe(img.width * img.height * 3);
  });

  it('changes and removes the CD/DVD medium, with tray events', async () => {
    const trays: boolean[] = [];
    const sub = qmp.onEvent('DEVICE_TRAY_MOVED', (d) => trays.push(d['tray-open']));
    await qmp.execute('blockdev-change-medium', {
      id: 'cd0',
      filename: MEDIA.i386,
      format: 'raw',
      'read-only-mode': 'read-only',
      force: true,
    });
    const cd = (await qmp.execute('query-block')).find((b) => b.qdev === 'cd0');
    expect(cd?.inserted?.file).toBe(MEDIA.i386);
    expect(cd?.inserted?.ro).toBe(true);
    await qmp.execute('blockdev-open-tray', { id: 'cd0', force: true });
    await qmp.execute('blockdev-remove-medium', { id: 'cd0' });
    await qmp.execute('blockdev-close-tray', { id: 'cd0' });
    expect((await qmp.execute('query-block')).find((b) => b.qdev === 'cd0')?.inserted).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(trays).toEqual([true, false, true, false]);
    sub.dispose();
  });

  it('reconnects after the socket drops', async () => {
    const closed = new Promise((r) => qmp.onDidClose(r));
    qmp.close();
    await closed;
    expect(qmp.state).toBe('closed');
    await expect(qmp.execute('query-status')).rejects.toMatchObject({ qmpClass: 'Disconnected' });
    await qmp.reconnect();
    expect(await qmp.execute('query-status')).toMatchObject({ running: false });
  });

  it('quits QEMU', async () => {
    const exited = new Promise((r) => qemu.once('exit', r));
    const shutdown = qmp.waitForEvent('SHUTDOWN', (d) => d.reason === 'host-qmp-quit', 5000);
    await qmp.execute('quit').catch((err: unknown) => {
      if (!(err instanceof QmpError)) throw err;
    });
    await shutdown.promise.catch((err: unknown) => {
      // QEMU may close the socket before the event reaches us.
      if (!(err instanceof QmpError)) throw err;
    });
    await exited;
  });
});
