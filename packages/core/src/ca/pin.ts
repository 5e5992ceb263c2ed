/**
 * CA pins: what a joining agent checks the auth server's CA against. Apart from the CA code so that joining (in
 * `core/api`) needs no certificate issuance.
 */

import { createHash } from 'node:crypto';
import { constantTimeEqual } from '../authn/secret.js';
import { AccessDeniedError } from '../errors/index.js';
import { pemToDer } from './pem.js';
import { certificateParts } from './tlsca/der.js';

/**
 * The CA pin agents check when joining: `sha256:` + hex SHA-256 of the CA certificate's SubjectPublicKeyInfo.
 *
 * @example
 * ```ts
 * caPin(hostCaCertPem); // 'sha256:7e12c17c20d9cb504bbcb3f0236be3f446861f1396dcbb44425fe28ec1c108f1'
 * ```
 */
export function caPin(caCertPem: string): string {
  const spki = certificateParts(pemToDer(caCertPem, 'CERTIFICATE')).subjectPublicKeyInfo;
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/**
 * True when a CA certificate matches one of the expected pins (comparison ignores case and surrounding
 * space). Every pin is compared, each in constant time, so timing reveals neither which pin matched nor
 * how much of one did.
 *
 * @example
 * ```ts
 * caPinMatches(hostCaCertPem, ['sha256:7e12...']); // true
 * ```
 */
export function caPinMatches(caCertPem: string, pins: readonly string[]): boolean {
  const actual = caPin(caCertPem);
  let matched = false;
  for (const pin of pins) matched = constantTimeEqual(pin.trim().toLowerCase(), actual) || matched;
  return matched;
}

/**
 * Checks a CA certificate against expected pins (any may match; see {@link caPinMatches}). Throws
 * {@link AccessDeniedError} when none matches.
 *
 * @example
 * ```ts
 * checkCaPin(hostCaCertPem, [config.teleport.ca_pin]);
 * ```
 */
export function checkCaPin(caCertPem: string, pins: readonly string[]): void {
  if (!caPinMatches(caCertPem, pins)) throw caPinMismatch();
}

/** The error of a CA that matches no pin. */
export function caPinMismatch(): AccessDeniedError {
  return new AccessDeniedError('the certificate authority does not match the CA pin', {
    code: 'ERR_TP_CA_PIN_MISMATCH',
    hint: 'check --ca-pin / teleport.ca_pin against `tctl status` on the auth server',
  });
}
