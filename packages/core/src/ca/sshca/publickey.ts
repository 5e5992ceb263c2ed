/**
 * OpenSSH public keys: the wire blob (RFC 4253 6.6, RFC 5656, RFC 8709), the one-line `authorized_keys` format, and
 * conversion to and from `node:crypto` key objects.
 */

import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { newBoundedCache } from '../cache.js';
import { isSshKeyType, parseAuthorizedKeyLine, type SshKeyType } from './keyline.js';
import { newSshReader, sshMpint, sshString, type SshReader } from './wire.js';

export {  parseAuthorizedKeyLine, SSH_KEY_TYPES, type AuthorizedKeyLine, type SshKeyType } from './keyline.js';

/** ECDSA curves: SSH name, JWK name, field size in bytes, and the hash RFC 5656 pairs with it. */
export const SSH_ECDSA_CURVES = {
  nistp256: { jwkCurve: 'P-256', fieldBytes: 32, hash: 'sha256' },
  nistp384: { jwkCurve: 'P-384', fieldBytes: 48, hash: 'sha384' },
  nistp521: { jwkCurve: 'P-521', fieldBytes: 66, hash: 'sha512' },
} as const;

export type SshEcdsaCurve = keyof typeof SSH_ECDSA_CURVES;

/** RSA keys below this size are refused, as OpenSSH does. */
const SSH_RSA_MIN_MODULUS_BITS = 1024;

/** A parsed public key: its SSH type, its wire blob, and the same key as a `node:crypto` object. */
export interface SshPublicKey {
  readonly type: SshKeyType;
  /** The SSH wire encoding (`string type` followed by the key fields). */
  readonly blob: Buffer;
  /** The key as a `node:crypto` object (imported on first access for parsed keys; invalid keys throw then). */
  readonly key: KeyObject;
}

const ED25519_KEY_BYTES = 32;

const b64url = (buf: Uint8Array): string => Buffer.from(buf).toString('base64url');
const fromB64url = (s: string | undefined): Buffer => {
  if (typeof s !== 'string') throw new BadParameterError('unsupported public key');
  return Buffer.from(s, 'base64url');
};

/** The ECDSA curve of an `ecdsa-sha2-*` key type. */
export function ecdsaCurveOf(type: SshKeyType): SshEcdsaCurve | undefined {
  return type.startsWith('ecdsa-sha2-') ? (type.slice('ecdsa-sha2-'.length) as SshEcdsaCurve) : undefined;
}

/**
 * Encodes a `node:crypto` public (or private) key as an SSH public key.
 *
 * @example
 * ```ts
 * const { publicKey } = generateKeyPairSync('ed25519');
 * formatAuthorizedKey(sshPublicKeyFromKeyObject(publicKey), 'alice'); // 'ssh-ed25519 AAAAC3... alice'
 * ```
 */
export function sshPublicKeyFromKeyObject(keyObject: KeyObject): SshPublicKey {
  const key = keyObject.type === 'private' ? createPublicKey(keyObject) : keyObject;
  const jwk = key.export({ format: 'jwk' });
  switch (key.asymmetricKeyType) {
    case 'ed25519': {
      const blob = Buffer.concat([sshString('ssh-ed25519'), sshString(fromB64url(jwk.x))]);
      return { type: 'ssh-ed25519', blob, key };
    }
    case 'ec': {
      const curve = Object.entries(SSH_ECDSA_CURVES).find(([, c]) => c.jwkCurve === jwk.crv);
      if (!curve) throw new BadParameterError(`unsupported ECDSA curve ${String(jwk.crv)}`);
      const [name] = curve;
      const point = Buffer.concat([Buffer.from([0x04]), fromB64url(jwk.x), fromB64url(jwk.y)]);
      const type = `ecdsa-sha2-${name}` as SshKeyType;
      return { type, blob: Buffer.concat([sshString(type), sshString(name), sshString(point)]), key };
    }
    case 'rsa': {
      const blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(fromB64url(jwk.e)), sshMpint(fromB64url(jwk.n))]);
      return { type: 'ssh-rsa', blob, key };
    }
    default:
      throw new BadParameterError(`unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

/**
 * Reads the fields that follow the type name of a public key (shared by plain keys and certificates, whose key
 * fields sit after the nonce) and rebuilds the plain key blob.
 */
export function readSshPublicKeyFields(type: SshKeyType, reader: SshReader): SshPublicKey {
  let jwk: JsonWebKey;
  let fields: Buffer[];
  switch (type) {
    case 'ssh-ed25519': {
      const pk = reader.readString();
      if (pk.length !== ED25519_KEY_BYTES) throw new BadParameterError('malformed ssh-ed25519 public key');
      jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) };
      fields = [sshString(pk)];
      break;
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const curveName = ecdsaCurveOf(type)!;
      const curve = SSH_ECDSA_CURVES[curveName];
      const identifier = reader.readText();
      const point = reader.readString();
      if (identifier !== curveName) throw new BadParameterError(`malformed ${type} public key: curve ${identifier}`);
      if (point.length !== 1 + 2 * curve.fieldBytes || point[0] !== 0x04) {
        throw new BadParameterError(`malformed ${type} public key: expected an uncompressed point`);
      }
      jwk = {
        kty: 'EC',
        crv: curve.jwkCurve,
        x: b64url(point.subarray(1, 1 + curve.fieldBytes)),
        y: b64url(point.subarray(1 + curve.fieldBytes)),
      };
      fields = [sshString(curveName), sshString(point)];
      break;
    }
    case 'ssh-rsa': {
      const e = reader.readUnsignedMpint();
      const n = reader.readUnsignedMpint();
      if (e.length === 0 || n.length === 0) throw new BadParameterError('malformed ssh-rsa public key');
      const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
      if (bits < SSH_RSA_MIN_MODULUS_BITS) throw new BadParameterError(`RSA key of ${bits} bits is too small`);
      jwk = { kty: 'RSA', n: b64url(n), e: b64url(e) };
      fields = [sshMpint(e), sshMpint(n)];
      break;
    }
  }
  const blob = Buffer.concat([sshString(type), ...fields]);
  // The key object is made on first use: issuing a certificate for a subject key only needs its blob.
  let key: KeyObject | undefined;
  return {
    type,
    blob,
    get key() {
      key ??= keyObjectCache.get(blob.toString('base64'), () => importJwk(jwk, type));
      return key;
    },
  };
}

const keyObjectCache = newBoundedCache<string, KeyObject>(256);

function importJwk(jwk: JsonWebKey, type: SshKeyType): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (cause) {
    throw new BadParameterError(`invalid ${type} public key`, { cause });
  }
}

/**
 * Decodes an SSH public key blob (not a certificate).
 *
 * @example
 * ```ts
 * const key = decodeSshPublicKey(parseAuthorizedKeyLine(line).blob);
 * ```
 */
export function decodeSshPublicKey(blob: Uint8Array): SshPublicKey {
  const reader = newSshReader(blob, 'SSH public key');
  const type = reader.readText();
  if (!isSshKeyType(type)) throw new BadParameterError(`unsupported SSH public key type "${type}"`);
  const key = readSshPublicKeyFields(type, reader);
  if (!reader.atEnd()) throw new BadParameterError('malformed SSH public key: trailing data');
  return key;
}

/**
 * Parses a public key line (`ssh-ed25519 AAAA... comment`); certificates are refused here (see
 * `parseSshCertificate`).
 */
export function parseSshPublicKey(line: string): SshPublicKey {
  return decodeSshPublicKey(parseAuthorizedKeyLine(line).blob);
}

/**
 * Formats a key or certificate blob as one `authorized_keys` / `.pub` line.
 *
 * @example
 * ```ts
 * formatAuthorizedKey({ type: 'ssh-ed25519', blob }, 'alice'); // 'ssh-ed25519 AAAA... alice'
 * ```
 */
export function formatAuthorizedKey(key: { type: string; blob: Uint8Array }, comment = ''): string {
  const line = `${key.type} ${Buffer.from(key.blob).toString('base64')}`;
  return comment ? `${line} ${comment}` : line;
}

/** The fingerprint `ssh-keygen -l` prints: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
