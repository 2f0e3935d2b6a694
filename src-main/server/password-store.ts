// The web console's password: scrypt-hashed in $MARU_HOME/server-auth.json (mode 0600),
// compared in constant time. The plain password is never stored or logged.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';
import { writeFileAtomic } from '../../src-node/atomic-file';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, opts, (e, k) => (e ? reject(e) : resolve(k))));

interface StoredHash {
  scheme: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
  setAt: string;
}

const PARAMS = { N: 1 << 15, r: 8, p: 1 };
const KEYLEN = 32;
export const MIN_PASSWORD_LENGTH = 8;

export function authFile(maruHome: string): string {
  return path.join(maruHome, 'server-auth.json');
}

export async function setPassword(maruHome: string, password: string): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('INVALID_ARGUMENT', `The password must be at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { ...PARAMS, maxmem: 64 << 20 });
  const stored: StoredHash = {
    scheme: 'scrypt',
    ...PARAMS,
    salt: salt.toString('base64'),
    hash: key.toString('base64'),
    setAt: new Date().toISOString(),
  };
  await writeFileAtomic(authFile(maruHome), JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
}

/** The stored hash, null when no password was set; a damaged file is an error, not "no password". */
export async function loadPasswordHash(maruHome: string): Promise<StoredHash | null> {
  let text: string;
  try {
    text = await readFile(authFile(maruHome), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const s = JSON.parse(text) as StoredHash;
    if (s.scheme !== 'scrypt' || !s.salt || !s.hash || !s.N) throw new Error('missing fields');
    return s;
  } catch (err) {
    throw new AppError(
      'INACCESSIBLE',
      `${authFile(maruHome)} is damaged (${(err as Error).message}). Set a new password with: maru serve --set-password`,
    );
  }
}

export async function verifyPassword(stored: StoredHash, password: string): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await scrypt(password, Buffer.from(stored.salt, 'base64'), expected.length, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
    maxmem: 64 << 20,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
