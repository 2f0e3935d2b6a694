// How the store keeps errors: the message of an AppError (what happened, why, what to do).
import { AppError } from '../../src-shared/errors';

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isCancelled(err: unknown): boolean {
  return err instanceof AppError && err.code === 'CANCELLED';
}
