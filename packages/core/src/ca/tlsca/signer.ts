/**
 * A TLS CA key pair prepared for signing: the private key imported once, the issuer name and key identifier
 * extracted once. Prepared signers are cached by PEM so issuance never re-parses the CA.
 */

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { newBoundedCache } from '../cache.js';
import { pemToDer } from '../pem.js';
import { certificateParts, DER_NULL, derOid, derSequence } from './der.js';
import { x509 } from './x509.js';

/** A TLS CA certificate and its private key, both PEM. */
export interface TlsCaKeyPairPem {
  cert: string;
  key: string;
}

/** Signature algorithm for a CA key: the DER `AlgorithmIdentifier` and the digest `node:crypto` signs with. */
interface X509SignatureAlgorithm {
  algorithmIdentifier: Buffer;
  /** `null` for Ed25519, which hashes internally. */
  digest: string | null;
}

/** What issuance needs from a CA. */
export interface TlsCaSigner {
  certPem: string;
  certDer: Buffer;
  /** The CA's subject, verbatim, to copy into issued certificates as their issuer. */
  subject: Buffer;
  /** The CA's subject key identifier, written as the authority key identifier of issued certificates. */
  keyIdentifier: Buffer;
  privateKey: KeyObject;
  signatureAlgorithm: X509SignatureAlgorithm;
  notAfter: Date;
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_ECDSA_SHA512 = '1.2.840.10045.4.3.4';
const OID_RSA_SHA256 = '1.2.840.113549.1.1.11';
const OID_ED25519 = '1.3.101.112';

/** The signature algorithm we use for a CA key: SHA-256 for P-256 and RSA, SHA-384/512 for the larger curves. */
function x509SignatureAlgorithmFor(key: KeyObject): X509SignatureAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return { algorithmIdentifier: derSequence(derOid(OID_ECDSA_SHA256)), digest: 'sha256' };
      if (curve === 'secp384r1') return { algorithmIdentifier: derSequence(derOid(OID_ECDSA_SHA384)), digest: 'sha384' };
      if (curve === 'secp521r1') return { algorithmIdentifier: derSequence(derOid(OID_ECDSA_SHA512)), digest: 'sha512' };
      throw new BadParameterError(`unsupported CA curve ${String(curve)}`);
    }
    case 'rsa':
      return { algorithmIdentifier: derSequence(derOid(OID_RSA_SHA256), DER_NULL), digest: 'sha256' };
    case 'ed25519':
      return { algorithmIdentifier: derSequence(derOid(OID_ED25519)), digest: null };
    default:
      throw new BadParameterError(`unsupported CA key type ${String(key.asymmetricKeyType)}`);
  }
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifierOf(subjectPublicKey: Uint8Array): Buffer {
  return createHash('sha1').update(subjectPublicKey).digest();
}

/** Keyed by the certificate PEM (V8 caches string hashes, so hits do not rehash the PEM); the key is compared. */
const signerCache = newBoundedCache<string, { key: string; signer: TlsCaSigner }>(64);

function prepare(pair: TlsCaKeyPairPem): TlsCaSigner {
  const certDer = pemToDer(pair.cert, 'CERTIFICATE');
  const parts = certificateParts(certDer);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pair.key);
  } catch (cause) {
    throw new BadParameterError('invalid TLS CA private key', { cause });
  }
  const derivedSpki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!derivedSpki.equals(parts.subjectPublicKeyInfo)) {
    throw new BadParameterError('the TLS CA private key does not match its certificate');
  }
  const parsed = new x509.X509Certificate(certDer);
  const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  return {
    certPem: pair.cert,
    certDer,
    subject: parts.subject,
    keyIdentifier: ski ? Buffer.from(ski.keyId, 'hex') : keyIdentifierOf(parts.subjectPublicKey),
    privateKey,
    signatureAlgorithm: x509SignatureAlgorithmFor(privateKey),
    notAfter: parsed.notAfter,
  };
}

/**
 * Prepares (or fetches from the cache) a signer for a TLS CA key pair. Throws {@link BadParameterError} when the
 * key does not belong to the certificate.
 *
 * @example
 * ```ts
 * const signer = tlsCaSigner(tlsSigningKeyPair(userCa));
 * ```
 */
export function tlsCaSigner(pair: TlsCaKeyPairPem): TlsCaSigner {
  const cached = signerCache.get(pair.cert, () => ({ key: pair.key, signer: prepare(pair) }));
  if (cached.key === pair.key) return cached.signer;
  const signer = prepare(pair);
  cached.key = pair.key;
  cached.signer = signer;
  return signer;
}
