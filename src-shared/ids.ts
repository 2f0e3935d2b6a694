// Branded id types, so a VM id is never passed where a snapshot id is expected.

export type VmId = string & { readonly __brand: 'VmId' };
export type SnapshotId = string & { readonly __brand: 'SnapshotId' };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function asVmId(s: string): VmId {
  return s as VmId;
}
