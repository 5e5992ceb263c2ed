import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock/index.js';
import { AccessDeniedError, BadParameterError } from '../errors/index.js';

/** RFC 6238 parameters every authenticator app supports, and Teleport uses. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_ALGORITHM = 'SHA1';
/** Secret size: 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226 recommends. */
export const TOTP_SECRET_BYTES = 20;
/** Steps accepted either side of the current one (clock drift between server and phone). */
export const TOTP_SKEW_STEPS = 1;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, upper case, without padding (what otpauth URLs carry). */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Decodes base32 leniently (case, spaces, padding), as users paste secrets. Throws {@link BadParameterError}. */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  if (clean === '' || clean.length > 1024) throw new BadParameterError('TOTP secret is not valid base32');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of clean) {
    const v = BASE32_ALPHABET.indexOf(ch);
    // The message never quotes the secret.
    if (v < 0) throw new BadParameterError('TOTP secret is not valid base32');
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/**
 * A new TOTP secret: 20 random bytes, base32 (32 characters).
 *
 * @example
 * ```ts
 * const secret = newTotpSecret(); // 'JBSWY3DPEHPK3PXP...'
 * ```
 */
export function newTotpSecret(): string {
  return base32Encode(randomBytes(TOTP_SECRET_BYTES));
}

export interface TotpUrlOptions {
  secret: string;
  /** Shown by the authenticator app above the account: the cluster name, or `Teleport`. */
  issuer: string;
  /** The user name. */
  account: string;
}

/**
 * The `otpauth://` URL an authenticator app scans (as a QR code):
 * `otpauth://totp/<issuer>:<user>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
 *
 * @example
 * ```ts
 * totpUrl({ secret, issuer: 'teleport.example.com', account: 'alice' });
 * ```
 */
export function totpUrl(options: TotpUrlOptions): string {
  const { secret, issuer, account } = options;
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = [
    `secret=${encodeURIComponent(secret.replace(/[\s=]/g, '').toUpperCase())}`,
    `issuer=${encodeURIComponent(issuer)}`,
    `algorithm=${TOTP_ALGORITHM}`,
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_PERIOD_SECONDS}`,
  ].join('&');
  return `otpauth://totp/${label}?${query}`;
}

/** The RFC 6238 time step of an instant: `floor(unix seconds / 30)`. */
export function totpStep(time: Date | number): number {
  const ms = time instanceof Date ? time.getTime() : time;
  if (!Number.isFinite(ms)) throw new TypeError('totpStep expects a valid time');
  return Math.floor(ms / 1000 / TOTP_PERIOD_SECONDS);
}

/** RFC 4226 HOTP with HMAC-SHA-1 and dynamic truncation. */
function hotp(key: Uint8Array, counter: number, digits: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/**
 * The TOTP code of a base32 secret at an instant (RFC 6238, SHA-1, 30 s step). `digits` is 6 by
 * default; 8 reproduces the RFC's test vectors.
 *
 * @example
 * ```ts
 * generateTotp(secret, clock.now()); // '287082'
 * ```
 */
export function generateTotp(secret: string, time: Date | number, options: { digits?: 6 | 7 | 8 } = {}): string {
  const step = totpStep(time);
  if (step < 0) throw new TypeError('generateTotp: time before the Unix epoch');
  return hotp(base32Decode(secret), step, options.digits ?? TOTP_DIGITS);
}

export interface ValidateTotpOptions {
  /** The user's base32 secret. */
  secret: string;
  /** What the user typed. */
  code: string;
  clock: Clock;
  /** The step of the last code this user used; a code from that step or earlier is refused (replay). */
  lastUsedStep?: number;
}

const CODE_FORMAT = /^\d{6}$/;

/**
 * Validates a 6-digit TOTP code against the current step and one step either side, comparing in
 * constant time. Returns the matched step; store it as `lastUsedStep` so the same code cannot be used
 * twice. Throws {@link AccessDeniedError} with a fixed message for a wrong code or a replay.
 *
 * @example
 * ```ts
 * const step = validateTotp({ secret, code, clock, lastUsedStep: device.lastUsedStep });
 * await saveDevice({ ...device, lastUsedStep: step });
 * ```
 */
export function validateTotp(options: ValidateTotpOptions): number {
  const { secret, code, clock, lastUsedStep } = options;
  const key = base32Decode(secret);
  const invalid = (): never => {
    throw new AccessDeniedError('invalid one-time code');
  };
  if (typeof code !== 'string') return invalid();
  const typed = code.replace(/\s/g, '');
  if (!CODE_FORMAT.test(typed)) return invalid();
  const current = totpStep(clock.now());
  const typedBytes = Buffer.from(typed, 'ascii');
  let matched: number | undefined;
  let replayed = false;
  // Every candidate is computed and compared, so timing does not reveal which step matched.
  for (let step = current - TOTP_SKEW_STEPS; step <= current + TOTP_SKEW_STEPS; step++) {
    if (step < 0) continue;
    const equal = timingSafeEqual(Buffer.from(hotp(key, step, TOTP_DIGITS), 'ascii'), typedBytes);
    if (!equal) continue;
    if (lastUsedStep !== undefined && step <= lastUsedStep) replayed = true;
    else matched = step;
  }
  if (matched !== undefined) return matched;
  if (replayed) throw new AccessDeniedError('one-time code has already been used, wait for the next one');
  return invalid();
}
