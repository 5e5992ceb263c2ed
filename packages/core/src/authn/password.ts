import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { BadParameterError } from '../errors/index.js';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;

/** scrypt cost parameters (RFC 7914). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
}

/** N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash. Stored with each hash, so it can rise later. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCHEME = 'scrypt';

// Bounds on parameters read back from storage, so a tampered hash cannot make verification eat the host.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 512 * 1024 * 1024;

/**
 * Checks a new password against the policy: 12 to 128 characters (Unicode code points). Throws
 * {@link BadParameterError}; the message never contains the password.
 *
 * @example
 * ```ts
 * checkPasswordPolicy('correct horse battery'); // ok
 * checkPasswordPolicy('short'); // throws: password must be at least 12 characters long
 * ```
 */
export function checkPasswordPolicy(password: string): void {
  if (typeof password !== 'string') throw new BadParameterError('password must be a string');
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) throw new BadParameterError(`password must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  if (length > MAX_PASSWORD_LENGTH) throw new BadParameterError(`password must be at most ${MAX_PASSWORD_LENGTH} characters long`);
}

function scryptAsync(password: string, salt: Uint8Array, params: ScryptParams, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: Math.min(MAX_MEMORY, 256 * params.N * params.r) };
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function checkParams(params: ScryptParams): boolean {
  const { N, r, p } = params;
  const powerOfTwo = Number.isInteger(N) && N >= 2 && (N & (N - 1)) === 0;
  return powerOfTwo && N <= MAX_N && Number.isInteger(r) && r >= 1 && r <= MAX_R && Number.isInteger(p) && p >= 1 && p <= MAX_P && 128 * N * r <= MAX_MEMORY;
}

/**
 * Hashes a password with scrypt and a random 16-byte salt, after {@link checkPasswordPolicy}. The result
 * carries its parameters: `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>`.
 *
 * @example
 * ```ts
 * const encoded = await hashPassword('correct horse battery');
 * await verifyPassword('correct horse battery', encoded); // true
 * ```
 */
export async function hashPassword(password: string, options: { params?: ScryptParams } = {}): Promise<string> {
  checkPasswordPolicy(password);
  const params = options.params ?? DEFAULT_SCRYPT_PARAMS;
  if (!checkParams(params)) throw new TypeError('hashPassword: scrypt parameters out of range');
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, params, KEY_BYTES);
  return [SCHEME, params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface DecodedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeHash(encoded: string): DecodedHash {
  const malformed = (): never => {
    throw new BadParameterError('stored password hash is malformed');
  };
  if (typeof encoded !== 'string' || encoded.length > 512) return malformed();
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== SCHEME) return malformed();
  const [, n, r, p, salt = '', key = ''] = parts;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!checkParams(params) || !B64.test(salt) || !B64.test(key)) return malformed();
  const saltBytes = Buffer.from(salt, 'base64');
  const keyBytes = Buffer.from(key, 'base64');
  if (saltBytes.length < 8 || saltBytes.length > 64 || keyBytes.length < 16 || keyBytes.length > 64) return malformed();
  return { params, salt: saltBytes, key: keyBytes };
}

/**
 * Verifies a password against a hash from {@link hashPassword}, comparing with `timingSafeEqual`.
 * Resolves `false` for a wrong password; rejects with {@link BadParameterError} only when the stored
 * hash itself is malformed (its text is not echoed).
 *
 * @example
 * ```ts
 * if (!(await verifyPassword(attempt, user.passwordHash))) throw new AccessDeniedError('invalid credentials');
 * ```
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const { params, salt, key } = decodeHash(encoded);
  if (typeof password !== 'string') return false;
  // Cheap refusal of oversized input; no valid password is this long (code points fit in 4 UTF-16 units).
  if (password.length > MAX_PASSWORD_LENGTH * 4) return false;
  const derived = await scryptAsync(password, salt, params, key.length);
  return timingSafeEqual(derived, key);
}

/**
 * True when a stored hash uses weaker parameters than `params`, so the caller can re-hash the password
 * after the next successful login.
 */
export function passwordHashNeedsRehash(encoded: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): boolean {
  const decoded = decodeHash(encoded);
  return decoded.params.N < params.N || decoded.params.r < params.r || decoded.params.p < params.p;
}
