// The `vm` control service over the engine launcher: start a VM in a detached engine host,
// and reach a running one's control endpoint for stop / pause / resume / reset / live CD.
import type { EngineStatus, StopResult } from '../../../src-shared/contracts/engine';
import type { JobOptions } from '../../../src-shared/contracts/library';
import type { VmPowerService, VmStartResult } from '../../../src-shared/contracts/vm-power';
import { AppError } from '../../../src-shared/errors';
import type { EngineHostClient } from '../../../src-emulator/host/control-client';
import { connectEngineHost, recoverAbandonedRun, startVm } from '../engine-launcher';

export class VmPower implements VmPowerService {
  constructor(
    private readonly maruHome: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private async withEngine<T>(ref: string, fn: (client: EngineHostClient) => Promise<T>): Promise<T> {
    const { client } = await connectEngineHost(this.maruHome, ref);
    try {
      return await fn(client);
    } finally {
      client.dispose();
    }
  }

  async start(ref: string, job?: JobOptions): Promise<VmStartResult> {
    // An engine host that died leaves its run folder: clean up first, as `maru start` does.
    await recoverAbandonedRun(this.maruHome, ref);
    job?.onProgress?.({ phase: 'start', fraction: 0 });
    const signal = job?.signal as AbortSignal | undefined;
    const r = await startVm(this.maruHome, ref, { env: this.env, ...(signal ? { signal } : {}) });
    job?.onProgress?.({ phase: 'start', fraction: 1 });
    return { vmId: r.vm.id, status: r.status };
  }

  async stop(ref: string, options: { force: boolean }): Promise<StopResult> {
    const recovered = await recoverAbandonedRun(this.maruHome, ref);
    if (recovered) {
      return { state: 'aborted', forced: true, message: 'The engine host had already ended; cleaned up.' };
    }
    return this.withEngine(ref, (c) => c.stop({ mode: options.force ? 'force' : 'acpi' }));
  }

  pause(ref: string): Promise<EngineStatus> {
    return this.withEngine(ref, (c) => c.pause());
  }

  resume(ref: string): Promise<EngineStatus> {
    return this.withEngine(ref, (c) => c.resume());
  }

  reset(ref: string): Promise<EngineStatus> {
    return this.withEngine(ref, (c) => c.reset());
  }

  attachIso(ref: string, isoPath: string): Promise<EngineStatus> {
    return this.withEngine(ref, (c) => c.attachIso(isoPath));
  }

  eject(ref: string): Promise<EngineStatus> {
    return this.withEngine(ref, (c) => c.eject());
  }

  async status(ref: string): Promise<EngineStatus | null> {
    try {
      return await this.withEngine(ref, (c) => c.status());
    } catch (err) {
      if (err instanceof AppError && (err.code === 'NOT_FOUND' || err.code === 'BUSY')) return null;
      throw err;
    }
  }
}
