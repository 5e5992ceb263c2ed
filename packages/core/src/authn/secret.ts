import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Default size of a secret token: 16 bytes, 128 bits, 32 hex characters (Teleport's token length). */
export const DEFAULT_TOKEN_BYTES = 16;
const MIN_TOKEN_BYTES = 16;
const MAX_TOKEN_BYTES = 1024;

/**
 * A random secret for invite, password-reset and join tokens: `bytes` bytes from the system CSPRNG, in hex.
 *
 * @example
 * ```ts
 * const token = newSecretToken(); // 'a3f1...' (32 hex characters)
 * ```
 */
export function newSecretToken(bytes: number = DEFAULT_TOKEN_BYTES): string {
  if (!Number.isInteger(bytes) || bytes < MIN_TOKEN_BYTES || bytes > MAX_TOKEN_BYTES) {
    throw new TypeError(`newSecretToken: bytes must be an integer from ${MIN_TOKEN_BYTES} to ${MAX_TOKEN_BYTES}`);
  }
  return randomBytes(bytes).toString('hex');
}

function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/**
 * Compares two secrets in time independent of where they differ and of their lengths: both are hashed
 * with SHA-256 first, so `timingSafeEqual` always compares 32 bytes.
 *
 * @example
 * ```ts
 * if (!constantTimeEqual(presented, stored.metadata.name)) throw new AccessDeniedError('invalid token');
 * ```
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ha = createHash('sha256').update(toBytes(a)).digest();
  const hb = createHash('sha256').update(toBytes(b)).digest();
  return timingSafeEqual(ha, hb);
}

/** Below this length a masked secret shows none of its characters (Teleport's `GetSafeName` rule). */
const MIN_PARTLY_SHOWN_LENGTH = 16;

/**
 * A token in the only form logs and audit events may show it: a secret shorter than 16 characters is all `*` (its
 * tail would be a large part of it), a longer one shows only its last quarter, so operators can tell tokens apart
 * without being able to use one. The same rule as `tctl tokens ls` (Teleport's `GetSafeName`).
 *
 * @example
 * ```ts
 * maskSecret('0123456789abcdef0123456789abcdef'); // '************************89abcdef'
 * maskSecret('short-token'); // '***********'
 * ```
 */
export function maskSecret(secret: string): string {
  if (secret.length < MIN_PARTLY_SHOWN_LENGTH) return '*'.repeat(secret.length);
  const hidden = Math.floor(0.75 * secret.length);
  return '*'.repeat(hidden) + secret.slice(hidden);
}
