/**
 * OpenSSH certificate fields (PROTOCOL.certkeys) read without `node:crypto`: the strict field reader that
 * `parseSshCertificate` builds on, and {@link summarizeSshCertificate}, which skips the key material so a light
 * client (`tsh status`) reads its certificate without loading the crypto stack. Nothing here checks a signature.
 */

import { BadParameterError } from '../../errors/index.js';
import { isSshKeyType, parseAuthorizedKeyLine, type SshKeyType } from './keyline.js';
import { newSshReader, type SshReader } from './wire.js';

/** Certificate kinds and their wire values. */
export const SSH_CERT_TYPES = { user: 1, host: 2 } as const;

export type SshCertType = keyof typeof SSH_CERT_TYPES;

/** `valid before` value meaning "never expires". */
export const SSH_CERT_VALID_FOREVER = 0xffff_ffff_ffff_ffffn;

/** Most principals a certificate may carry, as in OpenSSH (`SSHKEY_CERT_MAX_PRINCIPALS`). */
export const SSH_CERT_MAX_PRINCIPALS = 256;

/** Largest certificate blob we parse. */
export const SSH_CERT_MAX_BYTES = 192 * 1024;

/** What a certificate key type adds to its key type: `ssh-ed25519` + this. */
export const SSH_CERT_TYPE_SUFFIX = '-cert-v01@openssh.com';

/** The fields between the subject key and the signature key. */
export interface SshCertFields {
  serial: bigint;
  certType: SshCertType;
  keyId: string;
  validPrincipals: string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  /** Seconds since the epoch, or {@link SSH_CERT_VALID_FOREVER}. */
  validBefore: bigint;
  criticalOptions: Record<string, string>;
  extensions: Record<string, string>;
}

/** Option and extension names compare as bytes (OpenSSH's order). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function decodeOptions(data: Buffer, what: string): Record<string, string> {
  const reader = newSshReader(data, `certificate ${what}`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let previous: string | undefined;
  while (!reader.atEnd()) {
    const name = reader.readText();
    const value = reader.readString();
    if (previous !== undefined && compareBytes(previous, name) >= 0) {
      throw new BadParameterError(`certificate ${what} are not in order or repeat "${name}"`);
    }
    previous = name;
    if (value.length === 0) {
      out[name] = '';
    } else {
      const inner = newSshReader(value, `certificate ${what}`);
      out[name] = inner.readText();
      if (!inner.atEnd()) throw new BadParameterError(`malformed certificate ${what}: "${name}"`);
    }
  }
  return { ...out };
}

/** The start of a certificate: its blob, type and nonce, and a reader positioned at the subject key's fields. */
export interface SshCertHead {
  blob: Buffer;
  type: string;
  keyType: SshKeyType;
  nonce: Buffer;
  reader: SshReader;
}

/** Reads a certificate's type and nonce from its blob or from a `-cert.pub` line. */
export function readSshCertHead(input: string | Uint8Array): SshCertHead {
  const blob = typeof input === 'string' ? parseAuthorizedKeyLine(input).blob : Buffer.from(input);
  if (blob.length > SSH_CERT_MAX_BYTES) throw new BadParameterError('SSH certificate is too large');
  const reader = newSshReader(blob, 'SSH certificate');
  const type = reader.readText();
  const keyType = type.endsWith(SSH_CERT_TYPE_SUFFIX) ? type.slice(0, -SSH_CERT_TYPE_SUFFIX.length) : '';
  if (!isSshKeyType(keyType)) throw new BadParameterError(`unsupported SSH certificate type "${type}"`);
  return { blob, type, keyType, nonce: reader.readString(), reader };
}

/** Reads serial through extensions, the reader positioned just past the subject key. */
export function readSshCertFields(reader: SshReader): SshCertFields {
  const serial = reader.readUint64();
  const certTypeValue = reader.readUint32();
  const certType = (Object.keys(SSH_CERT_TYPES) as SshCertType[]).find((k) => SSH_CERT_TYPES[k] === certTypeValue);
  if (!certType) throw new BadParameterError(`unknown SSH certificate type ${certTypeValue}`);
  const keyId = reader.readText();
  const principalsReader = newSshReader(reader.readString(), 'certificate principals');
  const validPrincipals: string[] = [];
  while (!principalsReader.atEnd()) {
    if (validPrincipals.length >= SSH_CERT_MAX_PRINCIPALS) throw new BadParameterError('too many certificate principals');
    validPrincipals.push(principalsReader.readText());
  }
  const validAfter = reader.readUint64();
  const validBefore = reader.readUint64();
  const criticalOptions = decodeOptions(reader.readString(), 'critical options');
  const extensions = decodeOptions(reader.readString(), 'extensions');
  return { serial, certType, keyId, validPrincipals, validAfter, validBefore, criticalOptions, extensions };
}

/** How many wire fields each key type's public key has (after the type name). */
const KEY_FIELD_COUNT: Record<SshKeyType, number> = {
  'ssh-ed25519': 1,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
  'ssh-rsa': 2,
};

/** What a certificate says, without its keys and signature. */
export interface SshCertSummary extends SshCertFields {
  /** Certificate key type, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
}

/**
 * Reads what a certificate says (the same fields and checks as `parseSshCertificate`) without decoding its keys or
 * checking its signature: for showing a certificate the client holds, never for trusting one.
 *
 * @example
 * ```ts
 * summarizeSshCertificate(await readFile(certPath, 'utf8')).validPrincipals; // ['alice']
 * ```
 */
export function summarizeSshCertificate(input: string | Uint8Array): SshCertSummary {
  const { type, keyType, reader } = readSshCertHead(input);
  for (let i = 0; i < KEY_FIELD_COUNT[keyType]; i++) reader.readString();
  const fields = readSshCertFields(reader);
  for (let i = 0; i < 3; i++) reader.readString(); // reserved, signature key, signature
  if (!reader.atEnd()) throw new BadParameterError('malformed SSH certificate: trailing data');
  return { type, ...fields };
}
