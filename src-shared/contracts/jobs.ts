// Long jobs on the control contract (create, clone, start, save state, serial follow): the
// progress and cancellation hooks a front end passes as the last argument of a job method.

/** Progress of a long job, 0..1, with a phase label; a stream job also carries output bytes. */
export interface JobProgress {
  readonly phase: string;
  readonly fraction: number;
  /** Output a streaming job produced since its last report (base64 bytes), e.g. the serial console. */
  readonly data?: string;
}

/** The part of AbortSignal a job reads (src-shared has neither DOM nor Node types). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface JobOptions {
  readonly onProgress?: (p: JobProgress) => void;
  readonly signal?: AbortSignalLike;
}
