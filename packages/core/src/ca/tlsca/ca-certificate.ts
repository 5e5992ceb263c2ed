/**
 * Self-signed CA certificates, made with `@peculiar/x509` on Node's WebCrypto (rare, so the general library is the
 * right tool here; leaf issuance uses `./issue.ts`).
 */

import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import { BadParameterError } from '../../errors/index.js';
import { spkiSubjectPublicKey } from './der.js';
import { keyIdentifierOf } from './signer.js';
import { x509 } from './x509.js';

/** Validity of a CA certificate: 10 years, as Teleport's `defaults.CATTL`. */
export const CA_CERT_VALIDITY_MS = 10 * 365 * 24 * 3600_000;

/** How far NotBefore is set in the past, so hosts with a slightly late clock accept a fresh certificate. */
export const X509_BACKDATE_MS = 60_000;

/** Bytes of randomness in serial numbers: 128 bits. */
export const SERIAL_NUMBER_BYTES = 16;

/** WebCrypto parameters (import and sign) for a key. */
function webCryptoAlgorithm(key: KeyObject): {
  importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm;
  signParams: webcrypto.EcdsaParams | webcrypto.Algorithm;
} {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curves: Record<string, [string, string]> = {
        prime256v1: ['P-256', 'SHA-256'],
        secp384r1: ['P-384', 'SHA-384'],
        secp521r1: ['P-521', 'SHA-512'],
      };
      const entry = curves[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!entry) throw new BadParameterError('unsupported CA curve');
      return { importParams: { name: 'ECDSA', namedCurve: entry[0] }, signParams: { name: 'ECDSA', hash: entry[1] } };
    }
    case 'rsa': {
      const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
      return { importParams: params, signParams: params };
    }
    case 'ed25519':
      return { importParams: { name: 'Ed25519' }, signParams: { name: 'Ed25519' } };
    default:
      throw new BadParameterError(`unsupported CA key type ${String(key.asymmetricKeyType)}`);
  }
}

/** Options for {@link generateCaCertificate}. */
export interface GenerateCaCertificateOptions {
  /** Becomes both CN and O of the CA's subject. */
  clusterName: string;
  /** The CA's private key, PKCS#8 PEM. */
  privateKeyPem: string;
  clock: Clock;
  /** Default {@link CA_CERT_VALIDITY_MS}. */
  validityMs?: number;
}

/**
 * Creates a self-signed CA certificate: CN = O = cluster name, NotBefore one minute in the past, 10 years,
 * `CA:TRUE` (critical), key usage `keyCertSign | cRLSign` (critical), a subject key identifier, 128-bit serial.
 *
 * @example
 * ```ts
 * const keys = await generateKeyPair('ecdsa-p256');
 * const certPem = await generateCaCertificate({ clusterName: 'example.com', privateKeyPem: keys.privateKeyPem, clock });
 * ```
 */
export async function generateCaCertificate(options: GenerateCaCertificateOptions): Promise<string> {
  if (!options.clusterName) throw new BadParameterError('a CA certificate needs a cluster name');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(options.privateKeyPem);
  } catch (cause) {
    throw new BadParameterError('invalid CA private key', { cause });
  }
  const { importParams, signParams } = webCryptoAlgorithm(privateKey);
  const subtle = webcrypto.subtle;
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), importParams, false, ['sign']),
    publicKey: await subtle.importKey('spki', spki, importParams, true, ['verify']),
  };
  const now = options.clock.now().getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(SERIAL_NUMBER_BYTES).toString('hex'),
      name: new x509.Name([{ CN: [{ utf8String: options.clusterName }] }, { O: [{ utf8String: options.clusterName }] }]),
      notBefore: new Date(now - X509_BACKDATE_MS),
      notAfter: new Date(now + (options.validityMs ?? CA_CERT_VALIDITY_MS)),
      keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
      signingAlgorithm: signParams,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(keyIdentifierOf(spkiSubjectPublicKey(spki)).toString('hex')),
      ],
    },
  );
  return cert.toString('pem') + '\n';
}
