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
/** Named curves and the length of their uncompressed points. */
const EC_CURVES: Record<string, number> = {
  '2a8648ce3d030107': 65, // prime256v1
  '2b81040022': 97, // secp384r1
  '2b81040023': 133, // secp521r1
};

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
      const pointLength = EC_CURVES[spki.subarray(params.contentStart, params.end).toString('hex')];
      if (pointLength === undefined || key.length !== pointLength || key[0] !== 0x04) throw invalid();
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
