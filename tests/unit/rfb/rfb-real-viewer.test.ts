// The RFB server against a real third-party viewer: Debian's `vncsnapshot` (TightVNC's
// client, RFB 3.3) connects over loopback TCP, takes raw and zlib updates and writes a JPEG,
// decoded here with `djpeg` to check the pixels it saw.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePpm } from '../../../src-emulator/display/ppm-decoder';
import { RfbServer } from '../../../src-emulator/rfb/rfb-server';
import { RecordingInput, TestFramebuffer, until } from './rfb-test-kit';

const haveTools =
  spawnSync('sh', ['-c', 'command -v vncsnapshot && command -v djpeg'], { encoding: 'utf8' }).status === 0;
const missing = 'needs Debian packages vncsnapshot and libjpeg-turbo-progs (scripts/host-packages.txt)';

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000, encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, out: Buffer.concat([stdout, stderr]).toString('latin1') });
    });
  });
}

describe.skipIf(!haveTools)(
  `RFB server with a real viewer (vncsnapshot)${haveTools ? '' : ` — skipped: ${missing}`}`,
  () => {
    let dir: string;
    let server: RfbServer;
    let port: number;
    const fb = new TestFramebuffer(320, 200);

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'maru-rfb-'));
      // Four quadrants: red, green, blue, white.
      fb.fill({ x: 0, y: 0, width: 160, height: 100 }, [255, 0, 0], false);
      fb.fill({ x: 160, y: 0, width: 160, height: 100 }, [0, 255, 0], false);
      fb.fill({ x: 0, y: 100, width: 160, height: 100 }, [0, 0, 255], false);
      fb.fill({ x: 160, y: 100, width: 160, height: 100 }, [255, 255, 255], false);
      server = new RfbServer({ source: fb, input: new RecordingInput(), desktopName: 'maru rfb test' });
      const addr = await server.listen({ host: '127.0.0.1', port: 0 });
      port = 'port' in addr ? addr.port : 0;
    });

    afterAll(async () => {
      server?.dispose();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    for (const encoding of ['raw', 'zlib']) {
      it(`delivers the screen with ${encoding} rectangles`, async () => {
        const jpg = path.join(dir, `${encoding}.jpg`);
        const snap = await run('vncsnapshot', ['-encodings', encoding, '-quality', '100', `127.0.0.1::${port}`, jpg]);
        expect(snap.code, snap.out).toBe(0);
        expect(snap.out).toContain('Desktop name "maru rfb test"');
        expect(snap.out).toMatch(/320x200 screen/);
        const img = decodePpm(await ppmBytes(jpg));
        expect([img.width, img.height]).toEqual([320, 200]);
        const at = (x: number, y: number): number[] => {
          const o = (y * img.width + x) * img.channels;
          return [...img.data.subarray(o, o + 3)];
        };
        const near = (got: number[], want: number[]): void => {
          got.forEach((v, i) => expect(Math.abs(v - want[i]!), `${got} vs ${want}`).toBeLessThan(12));
        };
        near(at(80, 50), [255, 0, 0]);
        near(at(240, 50), [0, 255, 0]);
        near(at(80, 150), [0, 0, 255]);
        near(at(240, 150), [255, 255, 255]);
        await until(() => server.connectionCount === 0);
      });
    }
  },
);

async function ppmBytes(jpg: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    execFile('djpeg', ['-pnm', jpg], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}
