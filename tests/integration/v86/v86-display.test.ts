// The v86 engine's screen in a 32-bpp linear graphics mode, end to end: the storm guest
// (a 1.44 MB floppy, see /work/shared/fixtures/storm) redraws the whole screen and prints
// each frame number on COM1; a viewer on the engine's RFB socket decodes the frame number
// from the pixels it receives and the screenshot is a real picture of it.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { V86Engine } from '../../../src-emulator/engines/v86/v86-engine';
import type { VmConfig } from '../../../src-shared/vm-config';
import { TestViewer, decodePng, pictureStats, type Picture } from './v86-test-kit';

const STORM = path.resolve('tests/fixtures/build/storm-640x480.img');
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function floppyConfig(name: string): VmConfig {
  const now = new Date().toISOString();
  return {
    schemaVersion: 4,
    id: '5f8d6c1e-0b7a-4c39-9a57-1d2e3f405162',
    name,
    os: 'dos',
    engine: 'v86',
    cpus: 1,
    memoryMiB: 32,
    chipset: 'pc',
    firmware: 'bios',
    secureBoot: false,
    tpm: false,
    disks: [],
    cdroms: [{ id: 'cd0', iso: null, bus: 'ide' }],
    floppies: [{ id: 'fd0', image: STORM }],
    bootOrder: ['floppy'],
    nics: [],
    display: { vga: 'std' },
    description: '',
    createdAt: now,
    modifiedAt: now,
  };
}

/** The frame number drawn in the top-left cells (row 4, one cell per bit, bit 31 first). */
function frameNumber(p: Picture): number {
  let n = 0;
  for (let bit = 0; bit < 32; bit++) {
    const o = (4 * p.width + bit * 8 + 4) * 4;
    n = (n << 1) | (p.rgba[o]! > 128 ? 1 : 0);
  }
  return n >>> 0;
}

describe.skipIf(!existsSync(STORM))(
  `v86 graphics mode (storm floppy)${existsSync(STORM) ? '' : ' — skipped: run "npm run fixtures" (scripts/build-v86-fixtures.sh)'}`,
  () => {
    it('serves a 32-bpp linear mode over RFB, frame after frame, and screenshots it', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'maru-v86-storm-'));
      dirs.push(dir);
      const logs: string[] = [];
      const engine = new V86Engine({
        config: floppyConfig('storm'),
        paths: { vmFolder: dir, socketFolder: dir, logsFolder: dir },
        log: (l) => logs.push(l),
      });
      let serial = '';
      engine.onSerialOutput((b) => {
        serial += Buffer.from(b).toString('latin1');
        if (serial.length > 4096) serial = serial.slice(-2048);
      });
      try {
        await engine.start();
        const end = Date.now() + 60_000;
        while (!/F0000000[4-9a-f]/.test(serial) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        expect(serial).toMatch(/F[0-9A-F]{8}/i);

        const viewer = await TestViewer.connect(engine.display()!.path);
        try {
          expect([viewer.width, viewer.height]).toEqual([640, 480]);
          await viewer.update(false);
          const first = frameNumber(viewer.picture());
          // Incremental updates keep coming while the guest redraws; the frame number grows.
          let last = first;
          for (let i = 0; i < 10; i++) {
            await viewer.update(true);
            last = frameNumber(viewer.picture());
          }
          expect(viewer.updates).toBe(11);
          expect(last).toBeGreaterThan(first);
          // The frame shown was printed on serial by the guest (within the last few hundred).
          const printed = [...serial.matchAll(/F([0-9A-F]{8})/gi)].map((m) => parseInt(m[1]!, 16));
          expect(Math.max(...printed)).toBeGreaterThanOrEqual(last);
          expect(last).toBeGreaterThan(Math.max(...printed) - 2000);
          // The background below the cells is one colour derived from the frame.
          const bg = viewer.picture().rgba.subarray((300 * 640 + 300) * 4, (300 * 640 + 300) * 4 + 3);
          expect(bg.length).toBe(3);
        } finally {
          viewer.close();
        }

        const shot = await engine.screenshot();
        expect([shot.width, shot.height]).toEqual([640, 480]);
        const pic = decodePng(shot.png);
        expect(pictureStats(pic).nonBlack).toBeGreaterThan(100_000);
        expect(frameNumber(pic)).toBeGreaterThan(0);

        await engine.pause();
        const pausedAt = frameNumber(decodePng((await engine.screenshot()).png));
        await new Promise((r) => setTimeout(r, 300));
        expect(frameNumber(decodePng((await engine.screenshot()).png))).toBe(pausedAt);
        await engine.resume();
      } finally {
        if (engine.state === 'running' || engine.state === 'paused') await engine.stop('force');
        engine.dispose();
      }
      expect(logs.join('\n')).toMatch(/v86 0\.5\.462: BIOS/);
    }, 180_000);
  },
);
