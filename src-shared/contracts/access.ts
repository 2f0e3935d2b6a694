// Who may touch what: argument kinds the contract marks (host paths, bind addresses) and the
// caller policy the control road applies to every such argument of every method. The web
// console passes a confining policy; the desktop and the CLI keep the local user's full access.
import * as z from 'zod';
import { AppError } from '../errors';

/**
 * What a host path argument is used for: a file to read (`media`), a folder to list, or a new
 * file the call creates (`output`; it need not exist, its folder must).
 */
export type HostPathUse = 'media' | 'folder' | 'output';

export type ArgKind = { readonly kind: 'host-path'; readonly use: HostPathUse } | { readonly kind: 'bind-address' };

/** Marks schemas whose values the caller policy checks. */
export const argKinds = z.registry<ArgKind>();

/** A path on the host (an ISO or disk image to read, a folder to list, a file to create). */
export function hostPathArg(use: HostPathUse): z.ZodString {
  const schema = z.string().min(1).max(4096);
  argKinds.add(schema, { kind: 'host-path', use });
  return schema;
}

/** A host address a listening socket binds to (a NAT port forward's host side). */
export function bindAddressArg(): z.ZodString {
  const schema = z.string().min(1).max(255);
  argKinds.add(schema, { kind: 'bind-address' });
  return schema;
}

/**
 * What a caller may touch. `checkHostPath` returns the path to use (e.g. resolved) or throws
 * an AppError; `checkBindAddress` throws when the address is not allowed.
 */
export interface CallerPolicy {
  checkHostPath(path: string, use: HostPathUse): Promise<string>;
  checkBindAddress(address: string): void;
}

/** The local user's policy (desktop, CLI): every path and address is theirs. */
export const LOCAL_USER_POLICY: CallerPolicy = {
  checkHostPath: async (p) => p,
  checkBindAddress: () => undefined,
};

interface Def {
  readonly type: string;
  readonly items?: readonly z.ZodType[];
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly innerType?: z.ZodType;
  readonly element?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/**
 * Walks a parsed value along its schema and passes every marked argument through `policy`,
 * returning the value with checked paths substituted. Unions are refused if they contain a
 * marked schema (the walker cannot tell which branch matched), so a contract cannot hide a
 * path from the policy by accident.
 */
export async function applyCallerPolicy(schema: z.ZodType, value: unknown, policy: CallerPolicy): Promise<unknown> {
  const kind = argKinds.get(schema);
  if (kind && typeof value === 'string') {
    if (kind.kind === 'host-path') return policy.checkHostPath(value, kind.use);
    policy.checkBindAddress(value);
    return value;
  }
  if (value === null || value === undefined) return value;
  const def = defOf(schema);
  switch (def.type) {
    case 'tuple': {
      const arr = value as unknown[];
      const out = [...arr];
      for (let i = 0; i < (def.items?.length ?? 0) && i < arr.length; i++) {
        out[i] = await applyCallerPolicy(def.items![i]!, arr[i], policy);
      }
      return out;
    }
    case 'object': {
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = { ...obj };
      for (const [key, child] of Object.entries(def.shape ?? {})) {
        if (Object.hasOwn(obj, key)) out[key] = await applyCallerPolicy(child, obj[key], policy);
      }
      return out;
    }
    case 'array': {
      const out: unknown[] = [];
      for (const item of value as unknown[]) out.push(await applyCallerPolicy(def.element!, item, policy));
      return out;
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional':
      return applyCallerPolicy(def.innerType!, value, policy);
    case 'pipe':
      return applyCallerPolicy(def.in!, value, policy);
    case 'union':
      if ((def.options ?? []).some(containsMarked)) {
        throw new AppError(
          'INTERNAL',
          'A contract union holds a host path or address: the caller policy cannot see it.',
        );
      }
      return value;
    default:
      return value;
  }
}

/** True when `schema` holds a marked argument anywhere inside. */
export function containsMarked(schema: z.ZodType): boolean {
  if (argKinds.has(schema)) return true;
  const def = defOf(schema);
  const children: z.ZodType[] = [
    ...(def.items ?? []),
    ...Object.values(def.shape ?? {}),
    ...(def.options ?? []),
    ...(def.innerType ? [def.innerType] : []),
    ...(def.element ? [def.element] : []),
    ...(def.in ? [def.in] : []),
  ];
  return children.some(containsMarked);
}
