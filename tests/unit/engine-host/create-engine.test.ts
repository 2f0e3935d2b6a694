// The engine registry (engine-host/engine-host.ts): the engine host creates either engine by
// its kind alone — each loaded on demand — and a kind it does not know is refused with why.
// The engines are created, not started (starting them is the integration tests' job).
import { describe, expect, it } from 'vitest';
import { OS_PRESETS } from '../../../src-shared/os-presets';
import type { VmConfig } from '../../../src-shared/vm-config';
import { createEngine, type EngineCreateOptions } from '../../../src-emulator/engine-host/engine-host';
import { hostInfo } from '../services/host-probe/host-info-fixture';

const ID = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const p = OS_PRESETS.dos;
const config: VmConfig = {
  schemaVersion: 4,
  id: ID,
  name: 'registry',
  os: 'dos',
  engine: 'auto',
  cpus: 1,
  memoryMiB: 32,
  chipset: p.chipset,
  firmware: 'bios',
  secureBoot: false,
  tpm: false,
  disks: [],
  cdroms: [{ id: 'cd0', iso: null, bus: p.chipset === 'q35' ? 'ahci' : 'ide' }],
  floppies: [],
  bootOrder: ['cdrom', 'disk'],
  nics: [],
  display: { vga: p.vga },
  description: '',
  createdAt: '2025-01-01T00:00:00.000Z',
  modifiedAt: '2025-01-01T00:00:00.000Z',
};

const options: EngineCreateOptions = {
  config,
  host: hostInfo(),
  paths: {
    vmFolder: `/nonexistent/vms/${ID}`,
    socketFolder: `/nonexistent/run/${ID}`,
    logsFolder: '/nonexistent/logs',
  },
  acpiTimeoutMs: 1000,
  log: () => undefined,
  afterAbnormalEnd: false,
  onDidChangeRuntimeInfo: () => undefined,
};

describe('createEngine', () => {
  it('creates each engine by kind, not started, with nothing to recover yet', async () => {
    for (const kind of ['qemu', 'v86'] as const) {
      const engine = await createEngine(kind, options);
      try {
        expect(engine.kind).toBe(kind);
        expect(engine.capabilities.engine).toBe(kind);
        expect(engine.state).toBe('starting');
        expect(engine.runtimeInfo().recovery).toEqual(kind === 'qemu' ? {} : null);
      } finally {
        engine.dispose();
      }
    }
  });

  it('refuses a kind it does not know, saying the builds differ', async () => {
    await expect(createEngine('bochs' as unknown as 'qemu', options)).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/no engine "bochs" \(it knows qemu, v86\).*different Maru builds/),
    });
  });
});
