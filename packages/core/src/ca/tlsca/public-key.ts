/**
 * The subject public key of a certificate to issue, as SubjectPublicKeyInfo DER. For the common input (an SPKI PEM
 * from a client) this decodes and checks the structure directly: OpenSSL 3's generic PEM decoder and encoder cost
 * ~300 µs per key, more than signing the certificate.
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { DER_TAG, readDerChildren, readDerElement } from './der.js';

/** Key types we certify. */
type SubjectKeyType = 'rsa' | 'ec' | 'ed25519';

/** A subject public key ready to be written into a certificate. */
export interface SubjectPublicKey {
  type: SubjectKeyType;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
}

/** Smallest RSA key we certify. */
const MIN_RSA_MODULUS_BITS = 2048;

const OID_RSA = '2a864886f70d010101'; // 1.2.840.113549.1.1.1
const OID_EC = '2a8648ce3d0201'; // 1.2.840.10045.2.1
const OID_ED25519 = '2b6570'; // 1.3.101.112
/** Named curves: the length of their uncompressed points, and the prime `p` and coefficient `b` (all have a = -3). */
const EC_CURVES: Record<string, { pointLength: number; p: bigint; b: bigint }> = {
  '2a8648ce3d030107': {
    pointLength: 65, // prime256v1
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  '2b81040022': {
    pointLength: 97, // secp384r1
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  '2b81040023': {
    pointLength: 133, // secp521r1
    p: (1n << 521n) - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

/**
 * Whether an uncompressed point (0x04 || x || y) lies on the curve: y^2 = x^3 - 3x + b (mod p), with x and y below p.
 * A certificate for a point off the curve would be refused by every verifier later (or worse, accepted by a lax one).
 */
function onCurve(point: Buffer, curve: { p: bigint; b: bigint }): boolean {
  const half = (point.length - 1) / 2;
  const x = BigInt(`0x${point.subarray(1, 1 + half).toString('hex')}`);
  const y = BigInt(`0x${point.subarray(1 + half).toString('hex')}`);
  const { p, b } = curve;
  if (x >= p || y >= p) return false;
  const rhs = (((((x * x) % p) * x) % p) - 3n * x + b) % p;
  return (y * y - rhs) % p === 0n;
}

const invalid = (): BadParameterError => new BadParameterError('invalid public key: expected an RSA (2048+ bits), ECDSA or Ed25519 SubjectPublicKeyInfo');

/** Checks an SPKI's structure and algorithm without OpenSSL; returns the key type. */
function checkSubjectPublicKeyInfo(spki: Buffer): SubjectKeyType {
  const outer = readDerElement(spki, 0);
  if (outer.tag !== DER_TAG.sequence || outer.end !== spki.length) throw invalid();
  const [algorithm, bits, extra] = readDerChildren(spki, outer);
  if (!algorithm || !bits || extra || algorithm.tag !== DER_TAG.sequence || bits.tag !== DER_TAG.bitString) throw invalid();
  const [oid, params, moreParams] = readDerChildren(spki, algorithm);
  if (!oid || oid.tag !== DER_TAG.oid || moreParams) throw invalid();
  const oidHex = spki.subarray(oid.contentStart, oid.end).toString('hex');
  if (spki[bits.contentStart] !== 0) throw invalid(); // unused bits
  const key = spki.subarray(bits.contentStart + 1, bits.end);
  switch (oidHex) {
    case OID_ED25519:
      if (params || key.length !== 32) throw invalid();
      return 'ed25519';
    case OID_EC: {
      if (!params || params.tag !== DER_TAG.oid) throw invalid();
      const curve = EC_CURVES[spki.subarray(params.contentStart, params.end).toString('hex')];
      if (curve === undefined || key.length !== curve.pointLength || key[0] !== 0x04 || !onCurve(key, curve)) throw invalid();
      return 'ec';
    }
    case OID_RSA: {
      if (!params || params.tag !== DER_TAG.null || params.end !== params.contentStart) throw invalid();
      const rsaKey = readDerElement(key, 0);
      const [modulus, exponent, rest] = rsaKey.tag === DER_TAG.sequence && rsaKey.end === key.length ? readDerChildren(key, rsaKey) : [];
      if (!modulus || !exponent || rest || modulus.tag !== DER_TAG.integer || exponent.tag !== DER_TAG.integer) throw invalid();
      let start = modulus.contentStart;
      while (start < modulus.end && key[start] === 0) start++;
      const bitLength = (modulus.end - start) * 8 - (start < modulus.end ? Math.clz32(key[start]!) - 24 : 0);
      if (bitLength < MIN_RSA_MODULUS_BITS) throw invalid();
      return 'rsa';
    }
    default:
      throw invalid();
  }
}

const SPKI_PEM = /^\s*-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/;

/**
 * Reads the subject key from an SPKI PEM (fast path), any other key PEM, or a key object.
 *
 * @example
 * ```ts
 * subjectPublicKey(keys.publicKeyPem).type; // 'ec'
 * ```
 */
export function subjectPublicKey(input: string | KeyObject): SubjectPublicKey {
  if (typeof input === 'string') {
    const match = SPKI_PEM.exec(input);
    if (match) {
      const spki = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
      try {
        return { type: checkSubjectPublicKeyInfo(spki), spki };
      } catch (cause) {
        throw cause instanceof BadParameterError ? cause : new BadParameterError('invalid public key', { cause });
      }
    }
  }
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPublicKey(input) : input.type === 'private' ? createPublicKey(input) : input;
  } catch (cause) {
    throw new BadParameterError('invalid public key', { cause });
  }
  const spki = key.export({ type: 'spki', format: 'der' });
  return { type: checkSubjectPublicKeyInfo(spki), spki };
}
