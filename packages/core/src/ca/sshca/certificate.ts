/**
 * OpenSSH certificates (PROTOCOL.certkeys): encoding and signing, and a strict parser. Policy checks (trusted CA,
 * validity, principals, critical options) live in `./verify.ts`; Teleport's conventions in `./issue.ts`.
 */

import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { newBoundedCache } from '../cache.js';
import {
  decodeSshPublicKey,
  formatAuthorizedKey,
  readSshPublicKeyFields,
  sshPublicKeyFromKeyObject,
  type SshKeyType,
  type SshPublicKey,
} from './publickey.js';
import { signSshData, type SshRsaSignatureAlgorithm } from './signature.js';
import {
  compareBytes,
  readSshCertFields,
  readSshCertHead,
  SSH_CERT_MAX_PRINCIPALS,
  SSH_CERT_TYPE_SUFFIX,
  SSH_CERT_TYPES,
  type SshCertSummary,
  type SshCertType,
} from './summary.js';
import { sshString, sshUint32, sshUint64 } from './wire.js';

export {  SSH_CERT_MAX_PRINCIPALS, SSH_CERT_TYPES, SSH_CERT_VALID_FOREVER, type SshCertType } from './summary.js';

/** Nonce length OpenSSH uses. */
const NONCE_BYTES = 32;

/** The certificate key type for a public key type: `ssh-ed25519` -> `ssh-ed25519-cert-v01@openssh.com`. */
export function sshCertKeyType(keyType: SshKeyType): string {
  return `${keyType}${SSH_CERT_TYPE_SUFFIX}`;
}

/** What a certificate says; the input of {@link signSshCertificate}. */
export interface SshCertificateTemplate {
  certType: SshCertType;
  /** The subject key being certified. */
  publicKey: SshPublicKey;
  /** Default 0, as Teleport and `ssh-keygen` without `-z` write. */
  serial?: bigint;
  keyId: string;
  validPrincipals: readonly string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  /** Seconds since the epoch, or `SSH_CERT_VALID_FOREVER`. */
  validBefore: bigint;
  /** Option name -> value; flags have the value `''`. */
  criticalOptions?: Readonly<Record<string, string>>;
  /** Extension name -> value; flags (such as `permit-pty`) have the value `''`. */
  extensions?: Readonly<Record<string, string>>;
  /** Default: 32 random bytes. */
  nonce?: Uint8Array;
}

/** A parsed (or freshly signed) certificate: what it says ({@link SshCertSummary}), its keys and its signature. */
export interface SshCertificate extends SshCertSummary {
  nonce: Buffer;
  publicKey: SshPublicKey;
  reserved: Buffer;
  /** The CA key that signed the certificate. */
  signatureKey: SshPublicKey;
  /** The signature encoding (`string algorithm, string blob`). */
  signature: Buffer;
  /** The bytes covered by the signature: everything up to and including the signature key. */
  signedBytes: Buffer;
  /** The whole certificate blob. */
  blob: Buffer;
}

/** A CA private key ready to sign, with its public half in SSH form. */
export interface SshCaSigner {
  privateKey: KeyObject;
  publicKey: SshPublicKey;
  /** For RSA CAs; default `rsa-sha2-512`. */
  rsaSignatureAlgorithm?: SshRsaSignatureAlgorithm;
}

const signerCache = newBoundedCache<string, SshCaSigner>(64);

/**
 * Prepares a CA private key (PKCS#8 PEM or a key object) for signing. PEM keys are cached, so calling this on every
 * issuance costs a map lookup.
 *
 * @example
 * ```ts
 * const signer = sshCaSigner(ca.spec.active_keys.ssh[0].private_key);
 * ```
 */
export function sshCaSigner(
  privateKey: string | KeyObject,
  options: { rsaSignatureAlgorithm?: SshRsaSignatureAlgorithm } = {},
): SshCaSigner {
  // Keyed by the PEM string itself: V8 caches a string's hash, so a hit costs no hashing of the PEM.
  const base = typeof privateKey === 'string' ? signerCache.get(privateKey, () => prepareSshCaSigner(privateKey)) : prepareSshCaSigner(privateKey);
  return options.rsaSignatureAlgorithm ? { ...base, rsaSignatureAlgorithm: options.rsaSignatureAlgorithm } : base;
}

function prepareSshCaSigner(privateKey: string | KeyObject): SshCaSigner {
  let key: KeyObject;
  try {
    key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  } catch (cause) {
    throw new BadParameterError('invalid SSH CA private key', { cause });
  }
  if (key.type !== 'private') throw new BadParameterError('an SSH CA signer needs a private key');
  return { privateKey: key, publicKey: sshPublicKeyFromKeyObject(key) };
}

/** Options and extensions: sorted by name (OpenSSH requires it), values wrapped in a string unless empty. */
function encodeOptions(options: Readonly<Record<string, string>> | undefined): Buffer {
  if (!options) return sshString(Buffer.alloc(0));
  const names = Object.keys(options).sort(compareBytes);
  const parts: Buffer[] = [];
  for (const name of names) {
    if (name === '') throw new BadParameterError('certificate option names cannot be empty');
    const value = options[name]!;
    parts.push(sshString(name), sshString(value === '' ? Buffer.alloc(0) : sshString(value)));
  }
  return sshString(Buffer.concat(parts));
}

/**
 * Builds and signs a certificate with a CA key.
 *
 * @example
 * ```ts
 * const cert = signSshCertificate(
 *   { certType: 'user', publicKey, keyId: 'alice', validPrincipals: ['alice'], validAfter, validBefore,
 *     extensions: { 'permit-pty': '' } },
 *   sshCaSigner(caPrivateKeyPem),
 * );
 * formatSshCertificate(cert); // 'ssh-ed25519-cert-v01@openssh.com AAAA...'
 * ```
 */
export function signSshCertificate(template: SshCertificateTemplate, signer: SshCaSigner): SshCertificate {
  if (template.validPrincipals.length > SSH_CERT_MAX_PRINCIPALS) {
    throw new BadParameterError(`a certificate carries at most ${SSH_CERT_MAX_PRINCIPALS} principals`);
  }
  if (template.validAfter > template.validBefore) {
    throw new BadParameterError('certificate validity ends before it starts');
  }
  const type = sshCertKeyType(template.publicKey.type);
  const nonce = Buffer.from(template.nonce ?? randomBytes(NONCE_BYTES));
  // The certificate embeds the subject key's fields, i.e. its blob without the leading type string.
  const keyFields = template.publicKey.blob.subarray(4 + template.publicKey.blob.readUInt32BE(0));
  const reserved = Buffer.alloc(0);
  const signedBytes = Buffer.concat([
    sshString(type),
    sshString(nonce),
    keyFields,
    sshUint64(template.serial ?? 0n),
    sshUint32(SSH_CERT_TYPES[template.certType]),
    sshString(template.keyId),
    sshString(Buffer.concat(template.validPrincipals.map((p) => sshString(p)))),
    sshUint64(template.validAfter),
    sshUint64(template.validBefore),
    encodeOptions(template.criticalOptions),
    encodeOptions(template.extensions),
    sshString(reserved),
    sshString(signer.publicKey.blob),
  ]);
  const signature = signSshData(signer.privateKey, signedBytes, {
    keyType: signer.publicKey.type,
    ...(signer.rsaSignatureAlgorithm ? { rsaSignatureAlgorithm: signer.rsaSignatureAlgorithm } : {}),
  });
  const blob = Buffer.concat([signedBytes, sshString(signature)]);
  return {
    type,
    certType: template.certType,
    nonce,
    publicKey: template.publicKey,
    serial: template.serial ?? 0n,
    keyId: template.keyId,
    validPrincipals: [...template.validPrincipals],
    validAfter: template.validAfter,
    validBefore: template.validBefore,
    criticalOptions: { ...template.criticalOptions },
    extensions: { ...template.extensions },
    reserved,
    signatureKey: signer.publicKey,
    signature,
    signedBytes,
    blob,
  };
}

/**
 * Parses a certificate from its blob or from a `-cert.pub` line. Structure only: the signature and policy are
 * checked by `verifySshCert`.
 *
 * @example
 * ```ts
 * const cert = parseSshCertificate(await readFile('id_ed25519-cert.pub', 'utf8'));
 * cert.validPrincipals; // ['alice', 'root']
 * ```
 */
export function parseSshCertificate(input: string | Uint8Array): SshCertificate {
  const { blob, type, keyType, nonce, reader } = readSshCertHead(input);
  const publicKey = readSshPublicKeyFields(keyType, reader);
  const fields = readSshCertFields(reader);
  const reserved = reader.readString();
  const signatureKey = decodeSshPublicKey(reader.readString());
  const signedEnd = reader.offset;
  const signature = reader.readString();
  if (!reader.atEnd()) throw new BadParameterError('malformed SSH certificate: trailing data');
  return {
    type,
    ...fields,
    nonce: Buffer.from(nonce),
    publicKey,
    reserved: Buffer.from(reserved),
    signatureKey,
    signature: Buffer.from(signature),
    signedBytes: blob.subarray(0, signedEnd),
    blob,
  };
}

/**
 * Formats a certificate as one `-cert.pub` line.
 *
 * @example
 * ```ts
 * await writeFile('id_ed25519-cert.pub', formatSshCertificate(cert, 'alice') + '\n');
 * ```
 */
export function formatSshCertificate(cert: Pick<SshCertificate, 'type' | 'blob'>, comment = ''): string {
  return formatAuthorizedKey(cert, comment);
}
