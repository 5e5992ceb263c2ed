/**
 * SSH signatures (RFC 4253 6.6, RFC 5656 3.1.2, RFC 8332, RFC 8709): creating them with a CA key and checking them,
 * with the algorithm tied to the key type. SHA-1 `ssh-rsa` signatures are never produced nor accepted.
 */

import { sign, verify, type KeyObject } from 'node:crypto';
import { AccessDeniedError, BadParameterError } from '../../errors/index.js';
import { ecdsaCurveOf, SSH_ECDSA_CURVES, type SshKeyType, type SshPublicKey } from './publickey.js';
import { newSshReader, sshMpint, sshString } from './wire.js';

/** Signature algorithms we accept. */
export const SSH_SIGNATURE_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-256',
  'rsa-sha2-512',
] as const;

export type SshSignatureAlgorithm = (typeof SSH_SIGNATURE_ALGORITHMS)[number];

/** RSA signature algorithms a caller may choose when signing with an RSA key. */
export type SshRsaSignatureAlgorithm = 'rsa-sha2-256' | 'rsa-sha2-512';

/** The SHA-1 RSA signature algorithm, refused everywhere. */
const SSH_RSA_SHA1 = 'ssh-rsa';

/** Which signature algorithms a key of the given type may produce. */
function signatureAlgorithmsFor(keyType: SshKeyType): readonly SshSignatureAlgorithm[] {
  switch (keyType) {
    case 'ssh-rsa':
      return ['rsa-sha2-256', 'rsa-sha2-512'];
    default:
      return [keyType];
  }
}

function digestFor(algorithm: SshSignatureAlgorithm): string | null {
  switch (algorithm) {
    case 'ssh-ed25519':
      return null;
    case 'rsa-sha2-256':
      return 'sha256';
    case 'rsa-sha2-512':
      return 'sha512';
    default:
      return SSH_ECDSA_CURVES[ecdsaCurveOf(algorithm)!].hash;
  }
}

/** A decoded signature: algorithm name and the algorithm-specific blob. */
interface SshSignature {
  algorithm: string;
  blob: Buffer;
}

/** Decodes the `string algorithm, string blob` signature encoding. */
function decodeSshSignature(encoded: Uint8Array): SshSignature {
  const reader = newSshReader(encoded, 'SSH signature');
  const algorithm = reader.readText();
  const blob = reader.readString();
  if (!reader.atEnd()) throw new BadParameterError('malformed SSH signature: trailing data');
  return { algorithm, blob };
}

/** Options for {@link signSshData}. */
export interface SignSshDataOptions {
  /** The signing key's SSH type (decides the algorithm). */
  keyType: SshKeyType;
  /** For RSA keys; default `rsa-sha2-512`, as OpenSSH and Teleport use. */
  rsaSignatureAlgorithm?: SshRsaSignatureAlgorithm;
}

/**
 * Signs `data` and returns the SSH signature encoding (`string algorithm, string blob`).
 *
 * @example
 * ```ts
 * const signature = signSshData(caPrivateKey, certBody, { keyType: 'ssh-ed25519' });
 * ```
 */
export function signSshData(privateKey: KeyObject, data: Uint8Array, options: SignSshDataOptions): Buffer {
  const algorithm: SshSignatureAlgorithm =
    options.keyType === 'ssh-rsa' ? (options.rsaSignatureAlgorithm ?? 'rsa-sha2-512') : options.keyType;
  if (!signatureAlgorithmsFor(options.keyType).includes(algorithm)) {
    throw new BadParameterError(`a ${options.keyType} key cannot make ${algorithm} signatures`);
  }
  const digest = digestFor(algorithm);
  const curve = ecdsaCurveOf(options.keyType);
  let blob: Buffer;
  if (curve) {
    const raw = sign(digest, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const half = SSH_ECDSA_CURVES[curve].fieldBytes;
    blob = Buffer.concat([sshMpint(raw.subarray(0, half)), sshMpint(raw.subarray(half))]);
  } else {
    blob = sign(digest, data, privateKey);
  }
  return Buffer.concat([sshString(algorithm), sshString(blob)]);
}

const badSignature = (): AccessDeniedError =>
  new AccessDeniedError('SSH signature verification failed', { code: 'ERR_TP_SSH_BAD_SIGNATURE' });

/**
 * Checks an SSH signature made by `publicKey`. Throws {@link AccessDeniedError} when the algorithm does not belong
 * to the key type (including any SHA-1 `ssh-rsa` signature) or the signature does not verify.
 *
 * @example
 * ```ts
 * verifySshSignature(caKey, cert.signature, cert.signedBytes);
 * ```
 */
export function verifySshSignature(publicKey: SshPublicKey, encodedSignature: Uint8Array, data: Uint8Array): void {
  let signature: SshSignature;
  try {
    signature = decodeSshSignature(encodedSignature);
  } catch {
    throw badSignature();
  }
  const algorithm = signature.algorithm as SshSignatureAlgorithm;
  if (signature.algorithm === SSH_RSA_SHA1) {
    throw new AccessDeniedError('SHA-1 "ssh-rsa" signatures are not accepted', { code: 'ERR_TP_SSH_SHA1_SIGNATURE' });
  }
  if (!signatureAlgorithmsFor(publicKey.type).includes(algorithm)) {
    throw new AccessDeniedError(`signature algorithm "${signature.algorithm}" does not match the ${publicKey.type} key`, {
      code: 'ERR_TP_SSH_SIGNATURE_ALGORITHM',
    });
  }
  const digest = digestFor(algorithm);
  const curve = ecdsaCurveOf(publicKey.type);
  let ok: boolean;
  try {
    if (curve) {
      const size = SSH_ECDSA_CURVES[curve].fieldBytes;
      const reader = newSshReader(signature.blob, 'ECDSA signature');
      const r = reader.readUnsignedMpint();
      const s = reader.readUnsignedMpint();
      if (!reader.atEnd() || r.length > size || s.length > size) throw badSignature();
      const raw = Buffer.alloc(2 * size);
      r.copy(raw, size - r.length);
      s.copy(raw, 2 * size - s.length);
      ok = verify(digest, data, { key: publicKey.key, dsaEncoding: 'ieee-p1363' }, raw);
    } else if (publicKey.type === 'ssh-rsa') {
      const modulusBytes = Math.ceil((publicKey.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
      if (signature.blob.length > modulusBytes) throw badSignature();
      // OpenSSH left-pads short RSA signatures; OpenSSL wants the full modulus length.
      const raw = Buffer.alloc(modulusBytes);
      signature.blob.copy(raw, modulusBytes - signature.blob.length);
      ok = verify(digest, data, publicKey.key, raw);
    } else {
      ok = verify(null, data, publicKey.key, signature.blob);
    }
  } catch {
    throw badSignature();
  }
  if (!ok) throw badSignature();
}
