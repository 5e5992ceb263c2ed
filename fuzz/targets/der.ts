/**
 * The bounded DER reader: on the public keys clients send to be certified (SubjectPublicKeyInfo PEM), and on the
 * certificates it locates issuer, subject and key in.
 */

import { generateKeyPairSync } from 'node:crypto';
import * as fc from 'fast-check';
import { isTeleportError } from '../../packages/core/src/errors/index.js';
import { newFakeClock } from '../../packages/core/src/clock/index.js';
import { newCertAuthority, tlsSigningKeyPair } from '../../packages/core/src/ca/authority.js';
import { pemToDer } from '../../packages/core/src/ca/pem.js';
import { certificateParts, derSequence, readDerChildren, readDerElement, spkiSubjectPublicKey, type DerElement } from '../../packages/core/src/ca/tlsca/der.js';
import { readSubjectAttributes } from '../../packages/core/src/ca/tlsca/identity.js';
import { issueUserCert } from '../../packages/core/src/ca/tlsca/issue.js';
import { subjectPublicKey, type SubjectPublicKey } from '../../packages/core/src/ca/tlsca/public-key.js';
import type { Target } from '../harness.js';
import { mutatedBytes, randomBytes } from '../mutate.js';

/** The SPKI DER of one key of every type we certify, plus keys we refuse (P-256 is repeated: the common case). */
function spkiSeeds(): Buffer[] {
  const spki = (k: { export(o: { type: 'spki'; format: 'der' }): Buffer }) => k.export({ type: 'spki', format: 'der' });
  return [
    spki(generateKeyPairSync('ed25519').publicKey),
    spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
    spki(generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey),
    spki(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey),
    spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), // refused: too small
    spki(generateKeyPairSync('x25519').publicKey), // refused: not a signing key
  ];
}

const pem = (der: Uint8Array): string => `-----BEGIN PUBLIC KEY-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PUBLIC KEY-----\n`;

/** Walks every element, descending into constructed ones, as a depth-first DER reader would. */
function walk(buf: Buffer, element: DerElement, depth: number): number {
  let count = 1;
  if ((element.tag & 0x20) !== 0 && depth < 64) for (const child of readDerChildren(buf, element)) count += walk(buf, child, depth + 1);
  return count;
}

/** Client-supplied public keys: `subjectPublicKey` on SPKI PEM (its OpenSSL-free fast path) and the raw DER walk. */
export const derPublicKey: Target<'bytes', SubjectPublicKey> = {
  name: 'der-public-key',
  description: 'SubjectPublicKeyInfo DER from clients (subjectPublicKey on SPKI PEM, spkiSubjectPublicKey, readDerElement)',
  kind: 'bytes',
  seeds: spkiSeeds,
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 8, arbitrary: mutatedBytes(seeds) },
      { weight: 1, arbitrary: randomBytes(48) },
      { weight: 1, arbitrary: fc.array(randomBytes(8), { maxLength: 4 }).map((items) => derSequence(...items)) },
    ),
  parse(input) {
    const der = Buffer.from(input);
    try {
      walk(der, readDerElement(der, 0), 0);
      spkiSubjectPublicKey(der);
    } catch (err) {
      if (!isTeleportError(err)) throw err;
    }
    return subjectPublicKey(pem(der));
  },
  check(key, input) {
    if (!key.spki.equals(input)) throw new Error('subjectPublicKey changed the bytes of an accepted key');
  },
};

/** Certificates as the auth server issues them (user certificates with a Teleport identity in the subject). */
async function certificateSeeds(): Promise<Buffer[]> {
  const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
  const ca = await newCertAuthority({ clusterName: 'example.com', type: 'user', clock });
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await issueUserCert({
    ca: tlsSigningKeyPair(ca),
    publicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    clock,
    identity: { username: 'alice', roles: ['access', 'editor'], logins: ['root'], traits: { db_users: ['alice'] }, expires: new Date('2026-03-01T20:00:00Z'), routeToDatabase: { serviceName: 'roach', protocol: 'postgres', username: 'alice' } },
  });
  return [pemToDer(cert, 'CERTIFICATE'), pemToDer(tlsSigningKeyPair(ca).cert, 'CERTIFICATE')];
}

/** The DER walk over whole certificates: issuer, subject and key located without a full parse, subject attributes read. */
export const derCertificate: Target<'bytes', unknown> = {
  name: 'der-certificate',
  description: 'X.509 certificate DER walk (certificateParts, readSubjectAttributes)',
  kind: 'bytes',
  seeds: certificateSeeds,
  arbitrary: (seeds) => fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeds) }, { weight: 1, arbitrary: randomBytes(48) }),
  parse(input) {
    const der = Buffer.from(input);
    certificateParts(der);
    return readSubjectAttributes(der);
  },
};
