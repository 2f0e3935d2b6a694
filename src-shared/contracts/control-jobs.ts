// Control methods that are long jobs: front ends append JobOptions (progress + cancel) as
// their last argument, and report progress / accept cancellation over their transport.
export const JOB_METHODS: Readonly<Record<string, number>> = {
  // 'service.method': index of the JobOptions argument
  'library.create': 1,
  'library.clone': 2,
  'vm.start': 1,
};

/** Methods after which the library has changed (front ends refresh their list). */
export const LIBRARY_MUTATIONS: ReadonlySet<string> = new Set([
  'library.create',
  'library.modify',
  'library.rename',
  'library.delete',
  'library.clone',
  // Power changes show in the list's state badges.
  'vm.start',
  'vm.stop',
  'vm.pause',
  'vm.resume',
  'vm.reset',
]);

/** Messages on the web console's control socket (JSON text frames). */
export type ControlClientMessage =
  { type: 'call'; id: number; service: string; method: string; args: unknown[] } | { type: 'cancel'; id: number };

export type ControlServerMessage =
  | { type: 'result'; id: number; result: import('../errors').WireResult<unknown> }
  | { type: 'progress'; id: number; phase: string; fraction: number }
  | { type: 'event'; event: string; payload?: unknown };
