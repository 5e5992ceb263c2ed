/**
 * Verifies that a certificate was issued by one of several trusted CAs (several during a rotation) and is valid
 * now, and returns the identity it carries. Teleport issues leaf certificates directly under its CAs, so the chain
 * is one link: the TBS signature is checked with `node:crypto` against each trusted CA whose subject is the
 * certificate's issuer; the rest is parsed with `@peculiar/x509`.
 */

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import { AccessDeniedError, BadParameterError } from '../../errors/index.js';
import { newBoundedCache } from '../cache.js';
import { pemToDer } from '../pem.js';
import { certificateParts, readDerChildren, readDerElement, type CertificateParts } from './der.js';
import { parseIdentity, type Identity } from './identity.js';
import { EXT_KEY_USAGE } from './issue.js';
import { x509, type X509Certificate } from './x509.js';

/** Options for {@link verifyTlsCert}. */
export interface VerifyTlsCertOptions {
  /** CA certificates (PEM) to trust: during a rotation, the old and the new one. */
  trustedCaCerts: readonly string[];
  clock: Clock;
  /** Require this extended key usage (when the certificate restricts them, as ours always do). */
  usage?: keyof typeof EXT_KEY_USAGE;
}

/** A verified certificate. */
export interface VerifiedTlsCert {
  identity: Identity;
  /** The trusted CA certificate (PEM, as given) that issued it. */
  caCert: string;
  /** Hex serial number. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

interface TrustedCa {
  pem: string;
  subject: Buffer;
  publicKey: KeyObject;
  isCa: boolean;
  notBefore: Date;
  notAfter: Date;
}

/** Signature algorithms we accept (SHA-1 and MD5 based ones are refused), by the hex of the OID's content. */
const SIGNATURE_ALGORITHMS: Record<string, { keyType: string; digest: string | null }> = {
  '2a8648ce3d040302': { keyType: 'ec', digest: 'sha256' }, // ecdsa-with-SHA256
  '2a8648ce3d040303': { keyType: 'ec', digest: 'sha384' },
  '2a8648ce3d040304': { keyType: 'ec', digest: 'sha512' },
  '2a864886f70d01010b': { keyType: 'rsa', digest: 'sha256' }, // sha256WithRSAEncryption
  '2a864886f70d01010c': { keyType: 'rsa', digest: 'sha384' },
  '2a864886f70d01010d': { keyType: 'rsa', digest: 'sha512' },
  '2b6570': { keyType: 'ed25519', digest: null }, // Ed25519
};

const trustedCaCache = newBoundedCache<string, TrustedCa>(64);

function loadTrustedCa(pem: string): TrustedCa {
  return trustedCaCache.get(pem, () => {
    const der = pemToDer(pem, 'CERTIFICATE');
    const parsed = new x509.X509Certificate(der);
    const parts = certificateParts(der);
    return {
      pem,
      subject: parts.subject,
      publicKey: createPublicKey({ key: parts.subjectPublicKeyInfo, format: 'der', type: 'spki' }),
      isCa: parsed.getExtension(x509.BasicConstraintsExtension)?.ca === true,
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
    };
  });
}

function signatureVerifies(parts: CertificateParts, ca: TrustedCa): boolean {
  const algorithm = readDerElement(parts.signatureAlgorithm, 0);
  const [oid] = readDerChildren(parts.signatureAlgorithm, algorithm);
  if (!oid) return false;
  const spec = SIGNATURE_ALGORITHMS[parts.signatureAlgorithm.subarray(oid.contentStart, oid.end).toString('hex')];
  if (!spec || spec.keyType !== ca.publicKey.asymmetricKeyType) return false;
  try {
    return verify(spec.digest, parts.tbs, ca.publicKey, parts.signature);
  } catch {
    return false;
  }
}

const untrusted = (): AccessDeniedError =>
  new AccessDeniedError('certificate is not signed by a trusted certificate authority', { code: 'ERR_TP_TLS_UNTRUSTED_CA' });

/**
 * Verifies `cert` (PEM or DER) against the trusted CAs and the clock; throws {@link AccessDeniedError} when no
 * trusted, currently valid CA signed it, when it is expired or not yet valid, or lacks the required usage.
 *
 * @example
 * ```ts
 * const { identity } = verifyTlsCert(peerCertPem, { trustedCaCerts: trustedTlsCerts(userCa), clock, usage: 'clientAuth' });
 * ```
 */
export function verifyTlsCert(cert: string | Uint8Array, options: VerifyTlsCertOptions): VerifiedTlsCert {
  let parts: CertificateParts;
  let der: Buffer;
  try {
    der = typeof cert === 'string' ? pemToDer(cert, 'CERTIFICATE') : Buffer.from(cert);
    parts = certificateParts(der);
  } catch (cause) {
    throw new BadParameterError('malformed X.509 certificate', { cause });
  }
  const now = options.clock.now();
  let issuer: TrustedCa | undefined;
  for (const pem of options.trustedCaCerts) {
    const ca = loadTrustedCa(pem);
    if (!ca.isCa || !ca.subject.equals(parts.issuer) || now < ca.notBefore || now > ca.notAfter) continue;
    if (signatureVerifies(parts, ca)) {
      issuer = ca;
      break;
    }
  }
  if (!issuer) throw untrusted();
  // Signed by a CA we trust: now the rest of the certificate is worth parsing.
  let parsed: X509Certificate;
  try {
    parsed = new x509.X509Certificate(der);
  } catch (cause) {
    throw new BadParameterError('malformed X.509 certificate', { cause });
  }
  if (now < parsed.notBefore) throw new AccessDeniedError('certificate is not yet valid', { code: 'ERR_TP_TLS_CERT_NOT_YET_VALID' });
  if (now > parsed.notAfter) throw new AccessDeniedError('certificate has expired', { code: 'ERR_TP_TLS_CERT_EXPIRED' });
  if (options.usage) {
    const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
    if (eku && !eku.usages.map(String).includes(EXT_KEY_USAGE[options.usage])) {
      throw new AccessDeniedError(`certificate is not valid for ${options.usage}`, { code: 'ERR_TP_TLS_CERT_USAGE' });
    }
  }
  return {
    identity: parseIdentity(parsed),
    caCert: issuer.pem,
    serialNumber: parsed.serialNumber,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
  };
}
