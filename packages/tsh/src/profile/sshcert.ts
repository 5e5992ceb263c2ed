/**
 * What `tsh status` needs from an OpenSSH user certificate: key id, principals, validity, extensions. A small
 * bounded reader, so `tsh status` does not load the X.509 stack of `core/ca` (about 150 ms of startup); login and
 * everything that verifies certificates use `core/ca`.
 */

import { BadParameterError } from '@teleport-ts/core/errors';

/** Largest certificate read (as in `core/ca`). */
const MAX_CERT_BYTES = 192 * 1024;
const CERT_SUFFIX = '-cert-v01@openssh.com';

export interface SshCertSummary {
  keyId: string;
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: number;
  /** Seconds since the epoch; `Infinity` for "forever". */
  validBefore: number;
  extensions: Record<string, string>;
}

const malformed = (): never => {
  throw new BadParameterError('malformed SSH certificate');
};

function reader(buf: Buffer) {
  let pos = 0;
  const need = (n: number): void => {
    if (n < 0 || pos + n > buf.length) malformed();
  };
  const u32 = (): number => {
    need(4);
    const v = buf.readUInt32BE(pos);
    pos += 4;
    return v;
  };
  const u64 = (): bigint => {
    need(8);
    const v = buf.readBigUInt64BE(pos);
    pos += 8;
    return v;
  };
  const bytes = (): Buffer => {
    const n = u32();
    need(n);
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  return { u32, u64, bytes, text: (): string => bytes().toString('utf8'), atEnd: (): boolean => pos >= buf.length };
}

/** Key fields after the nonce, by key type: how many `string`/`mpint` fields to skip. */
const KEY_FIELD_COUNT: Record<string, number> = {
  'ssh-ed25519': 1,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
  'ssh-rsa': 2,
};

function options(data: Buffer): Record<string, string> {
  const r = reader(data);
  const out: Record<string, string> = {};
  while (!r.atEnd()) {
    const name = r.text();
    const value = r.bytes();
    // Values are strings wrapped in a string (PROTOCOL.certkeys); flags are empty.
    out[name] = value.length === 0 ? '' : reader(value).text();
  }
  return out;
}

/**
 * Reads a `-cert.pub` line without verifying its signature (status shows what the profile holds; servers verify).
 *
 * @example
 * ```ts
 * readSshCertSummary(await readFile(certPath, 'utf8')).principals; // ['alice']
 * ```
 */
export function readSshCertSummary(line: string): SshCertSummary {
  const parts = line.trim().split(/\s+/);
  const type = parts[0] ?? '';
  if (!type.endsWith(CERT_SUFFIX) || parts[1] === undefined) malformed();
  const blob = Buffer.from(parts[1]!, 'base64');
  if (blob.length > MAX_CERT_BYTES) malformed();
  const r = reader(blob);
  if (r.text() !== type) malformed();
  const fields = KEY_FIELD_COUNT[type.slice(0, -CERT_SUFFIX.length)];
  if (fields === undefined) malformed();
  r.bytes(); // nonce
  for (let i = 0; i < fields!; i++) r.bytes();
  r.u64(); // serial
  if (r.u32() !== 1) throw new BadParameterError('not an SSH user certificate');
  const keyId = r.text();
  const principalsReader = reader(r.bytes());
  const principals: string[] = [];
  while (!principalsReader.atEnd()) principals.push(principalsReader.text());
  const validAfter = Number(r.u64());
  const before = r.u64();
  r.bytes(); // critical options
  const extensions = options(r.bytes());
  return {
    keyId,
    principals,
    validAfter,
    validBefore: before === 0xffff_ffff_ffff_ffffn ? Infinity : Number(before),
    extensions,
  };
}
