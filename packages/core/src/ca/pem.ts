import { BadParameterError } from '../errors/index.js';

/**
 * Wraps DER bytes in a PEM block (64-character lines, trailing newline).
 *
 * @example
 * ```ts
 * derToPem(certDer, 'CERTIFICATE'); // '-----BEGIN CERTIFICATE-----\n...'
 * ```
 */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Decodes the first PEM block with the given label; throws {@link BadParameterError} when there is none.
 *
 * @example
 * ```ts
 * const der = pemToDer(certPem, 'CERTIFICATE');
 * ```
 */
export function pemToDer(pem: string, label: string): Buffer {
  const begin = `-----BEGIN ${label}-----`;
  const start = pem.indexOf(begin);
  const end = start < 0 ? -1 : pem.indexOf(`-----END ${label}-----`, start);
  if (start < 0 || end < 0) throw new BadParameterError(`expected a PEM "${label}" block`);
  const body = pem.slice(start + begin.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new BadParameterError(`malformed PEM "${label}" block`);
  return Buffer.from(body, 'base64');
}

/** Every PEM block with the given label, decoded, in order. */
export function pemBlocksToDer(pem: string, label: string): Buffer[] {
  const blocks: Buffer[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  for (const match of pem.matchAll(re)) blocks.push(pemToDer(match[0], label));
  return blocks;
}
