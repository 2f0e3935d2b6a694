// What every CLI command gets: output streams, environment, and a cancellation signal
// wired to Ctrl+C. Commands write results to stdout and errors to stderr.
import { AppError } from '../../src-shared/errors';
import type { PrewarmedEngineHost } from '../services/vm-runtime/engine-host-process';

export interface CliContext {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly signal: AbortSignal;
  /** `maru start` only: an engine host the entry started early (see vm-runtime/engine-host-process.ts). */
  readonly engineHost?: PrewarmedEngineHost | null;
}

export interface CliCommand {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** More help printed after the usage by `maru COMMAND --help` (not with usage errors). */
  readonly details?: string;
  run(ctx: CliContext, argv: string[]): Promise<void>;
}

/** A usage mistake: printed with the command's usage line, exit status 2. */
export class UsageError extends AppError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'UsageError';
  }
}

export function writeJson(ctx: CliContext, value: unknown): void {
  ctx.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
