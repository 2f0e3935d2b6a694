// A quick look at a dropped file before anything is uploaded: an ISO has "CD001" (ISO 9660) or
// "BEA01" (UDF) at byte 32769. The server's detector makes the real check; this one only spares
// the user from uploading gigabytes that are certainly not an ISO.

/** Where the signature lies: sector 16, after the descriptor type byte. */
export const SIGNATURE_OFFSET = 32769;
export const MIN_ISO_BYTES = 32768 + 2048;

export type PrecheckResult = { ok: true } | { ok: false; reason: 'empty' | 'too-small' | 'no-signature' };

/** `head` holds the file's bytes at SIGNATURE_OFFSET..+5 (fewer when the file is shorter). */
export function precheckIso(sizeBytes: number, signature: Uint8Array): PrecheckResult {
  if (sizeBytes === 0) return { ok: false, reason: 'empty' };
  if (sizeBytes < MIN_ISO_BYTES) return { ok: false, reason: 'too-small' };
  const text = String.fromCharCode(...signature.subarray(0, 5));
  return text === 'CD001' || text === 'BEA01' ? { ok: true } : { ok: false, reason: 'no-signature' };
}

/** Reads the 5 signature bytes of a File and checks them. */
export async function precheckFile(file: Blob): Promise<PrecheckResult> {
  const bytes = new Uint8Array(await file.slice(SIGNATURE_OFFSET, SIGNATURE_OFFSET + 5).arrayBuffer());
  return precheckIso(file.size, bytes);
}
