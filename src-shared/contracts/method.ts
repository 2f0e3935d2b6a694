// How one method of the control contract is declared: its argument tuple (zod), and whether
// it is a long job (the front end passes JobOptions after the declared arguments). Every
// transport and the typed client read these entries; there is no separate list of jobs.
import type * as z from 'zod';

export interface MethodSpec<A extends z.ZodTuple = z.ZodTuple> {
  readonly args: A;
  /** Set for long jobs: the index of the JobOptions argument (right after the declared ones). */
  readonly jobIndex: number | null;
}

function arity(args: z.ZodTuple): number {
  return (args as unknown as { _zod: { def: { items: readonly unknown[] } } })._zod.def.items.length;
}

/** A request/response method. */
export function method<A extends z.ZodTuple>(args: A): MethodSpec<A> {
  return { args, jobIndex: null };
}

/** A long job: progress and cancel (JobOptions) ride along as the argument after `args`. */
export function job<A extends z.ZodTuple>(args: A): MethodSpec<A> {
  return { args, jobIndex: arity(args) };
}
