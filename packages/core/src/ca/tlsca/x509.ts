/**
 * `@peculiar/x509`, wired to Node's WebCrypto. Import the library through this module only.
 *
 * The library needs a Reflect metadata polyfill installed before it loads, so the polyfill is imported first.
 * ES module evaluation follows import order; the bundles (core's and the CLIs') inline `@peculiar/x509` rather
 * than leave it external, because an external import would be hoisted above the inlined polyfill.
 */
import './reflect-metadata.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { X509Certificate } from '@peculiar/x509';
import { BadParameterError } from '../../errors/index.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type { X509Certificate };

/** Input of {@link parseX509Certificate}: PEM text, DER bytes, or an already parsed certificate. */
export type X509CertificateInput = string | Uint8Array | X509Certificate;

/** Parses a certificate with `@peculiar/x509`, mapping failures to {@link BadParameterError}. */
export function parseX509Certificate(cert: X509CertificateInput): X509Certificate {
  if (cert instanceof x509.X509Certificate) return cert;
  try {
    return new x509.X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (cause) {
    throw new BadParameterError('malformed X.509 certificate', { cause });
  }
}
