// The `call` message of the control wire, as both renderer transports (web console socket,
// Electron IPC) send it: a job's call is marked `job: true` (progress and cancel apply).
import type { ServiceName } from '../../src-shared/contracts/control';
import type { ControlClientMessage } from '../../src-shared/contracts/control-wire';
import type { JobOptions } from '../../src-shared/contracts/jobs';

export function callMessage(
  id: number,
  service: ServiceName,
  method: string,
  args: readonly unknown[],
  job: JobOptions | undefined,
): Extract<ControlClientMessage, { type: 'call' }> {
  return { type: 'call', id, service, method, args: [...args], ...(job ? { job: true } : {}) };
}
