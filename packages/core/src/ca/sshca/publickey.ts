/**
 * OpenSSH public keys: the wire blob (RFC 4253 6.6, RFC 5656, RFC 8709), the one-line `authorized_keys` format, and
 * conversion to and from `node:crypto` key objects.
 */

import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { newBoundedCache } from '../cache.js';
import { newSshReader, sshMpint, sshString, type SshReader } from './wire.js';

/** Public key algorithms we read and write. DSA and the FIDO `sk-*` types are refused. */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** ECDSA curves: SSH name, JWK name, field size in bytes, and the hash RFC 5656 pairs with it. */
export const SSH_ECDSA_CURVES = {
  nistp256: { jwkCurve: 'P-256', fieldBytes: 32, hash: 'sha256' },
  nistp384: { jwkCurve: 'P-384', fieldBytes: 48, hash: 'sha384' },
  nistp521: { jwkCurve: 'P-521', fieldBytes: 66, hash: 'sha512' },
} as const;

export type SshEcdsaCurve = keyof typeof SSH_ECDSA_CURVES;

/** RSA keys below this size are refused, as OpenSSH does. */
export const SSH_RSA_MIN_MODULUS_BITS = 1024;

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

/** True when `type` names a public key algorithm we support. */
export function isSshKeyType(type: string): type is SshKeyType {
  return (SSH_KEY_TYPES as readonly string[]).includes(type);
}

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

/** One line of `authorized_keys` (or a `.pub` / `-cert.pub` file). */
export interface AuthorizedKeyLine {
  /** The options field of an `authorized_keys` line (`from="10.0.0.0/8",no-pty`), when present. */
  options: string | undefined;
  /** The key type named on the line, e.g. `ssh-ed25519` or `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The decoded base64 field; its embedded type name matches `type`. */
  blob: Buffer;
  comment: string;
}

/** Longest line we accept: large RSA certificates with many principals stay far below. */
const MAX_AUTHORIZED_KEY_LINE = 256 * 1024;

const looksLikeKeyType = (token: string): boolean =>
  isSshKeyType(token) || /^[a-z0-9-]+-cert-v01@openssh\.com$/.test(token) || /^(ssh|ecdsa|sk)-[a-z0-9@.-]+$/.test(token);

/**
 * Parses the one-line format shared by `authorized_keys`, `id_*.pub` and `*-cert.pub`: `[options] type base64
 * [comment]`. The options field of `authorized_keys` may contain quoted spaces.
 *
 * @example
 * ```ts
 * parseAuthorizedKeyLine('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... alice@laptop').comment; // 'alice@laptop'
 * ```
 */
export function parseAuthorizedKeyLine(line: string): AuthorizedKeyLine {
  if (line.length > MAX_AUTHORIZED_KEY_LINE) throw new BadParameterError('SSH key line is too long');
  let rest = line.trim();
  if (rest === '' || rest.startsWith('#')) throw new BadParameterError('expected an SSH key line');
  let options: string | undefined;
  const firstSpace = rest.search(/\s/);
  const firstToken = firstSpace < 0 ? rest : rest.slice(0, firstSpace);
  if (!looksLikeKeyType(firstToken)) {
    let i = 0;
    let quoted = false;
    for (; i < rest.length; i++) {
      const c = rest[i]!;
      if (c === '\\' && quoted) i++;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && /\s/.test(c)) break;
    }
    if (quoted) throw new BadParameterError('malformed SSH key line: unterminated quote in options');
    options = rest.slice(0, i);
    rest = rest.slice(i).trimStart();
  }
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(rest);
  if (!match) throw new BadParameterError('malformed SSH key line');
  const type = match[1]!;
  const blob = Buffer.from(match[2]!, 'base64');
  const embedded = newSshReader(blob, 'SSH key').readText();
  if (embedded !== type) throw new BadParameterError(`SSH key line says "${type}" but the key is "${embedded}"`);
  return { options, type, blob, comment: (match[3] ?? '').trim() };
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
