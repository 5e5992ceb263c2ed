/** SSH public keys (wire blobs and `authorized_keys` lines) and OpenSSH certificates, as clients send them. */

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import { parseSshCertificate, sshCaSigner, signSshCertificate, SSH_CERT_VALID_FOREVER, type SshCertificate } from '../../packages/core/src/ca/sshca/certificate.js';
import { decodeSshPublicKey, formatAuthorizedKey, parseAuthorizedKeyLine, parseSshPublicKey, sshPublicKeyFromKeyObject, type SshPublicKey } from '../../packages/core/src/ca/sshca/publickey.js';
import { summarizeSshCertificate } from '../../packages/core/src/ca/sshca/summary.js';
import type { Target } from '../harness.js';
import { mutatedBytes, mutatedText, randomBytes } from '../mutate.js';

const fail = (what: string): never => {
  throw new Error(what);
};

let keys: KeyObject[] | undefined;

/** One private key of every type we read (RSA at OpenSSH's minimum and at 2048 bits), made once per process. */
function fixtureKeys(): KeyObject[] {
  keys ??= [
    generateKeyPairSync('ed25519').privateKey,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
    generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
    generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  ];
  return keys;
}

const publicKeys = (): SshPublicKey[] => fixtureKeys().map((k) => sshPublicKeyFromKeyObject(k));

/** Certificates as Teleport issues them: a user certificate with principals and extensions, a host certificate. */
function fixtureCertificates(): SshCertificate[] {
  const [ed25519, p256, , , , rsa] = fixtureKeys();
  const now = 1_780_000_000n;
  return [
    signSshCertificate(
      {
        certType: 'user',
        publicKey: sshPublicKeyFromKeyObject(p256!),
        keyId: 'alice',
        validPrincipals: ['alice', 'root', '-teleport-internal-join'],
        validAfter: now - 60n,
        validBefore: now + 12n * 3600n,
        criticalOptions: { 'source-address': '10.0.0.0/8' },
        extensions: { 'permit-pty': '', 'teleport-roles': '{"version":"v1","roles":["access"]}' },
      },
      sshCaSigner(ed25519!),
    ),
    signSshCertificate(
      { certType: 'host', publicKey: sshPublicKeyFromKeyObject(ed25519!), keyId: 'node-1', validPrincipals: ['node-1.example.com'], validAfter: 0n, validBefore: SSH_CERT_VALID_FOREVER },
      sshCaSigner(rsa!, { rsaSignatureAlgorithm: 'rsa-sha2-512' }),
    ),
  ];
}

/** A decoded key must re-encode to the same blob and line (and a valid key must import into node:crypto). */
function checkKey(key: SshPublicKey): void {
  void key.key; // imports lazily; an invalid point or modulus must be a BadParameterError there too
  const again = parseSshPublicKey(formatAuthorizedKey(key, 'fuzz'));
  if (!again.blob.equals(key.blob) || again.type !== key.type) fail('SSH public key round trip differs');
}

/** SSH public key wire blobs (`tsh login`'s key, agents' keys), and the key object they import to. */
export const sshPublicKey: Target<'bytes', SshPublicKey> = {
  name: 'ssh-public-key',
  description: 'SSH public key blobs: ed25519, ECDSA P-256/384/521, RSA (decodeSshPublicKey, then node:crypto import)',
  kind: 'bytes',
  seeds: () => publicKeys().map((k) => k.blob),
  arbitrary: (seeds) => fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeds) }, { weight: 1, arbitrary: randomBytes(48) }),
  parse(input) {
    const key = decodeSshPublicKey(input);
    void key.key;
    return key;
  },
  check: checkKey,
};

const LINE_TOKENS = [' ', '\t', '\n', '"', '\\', '=', '==', 'ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-ed25519-cert-v01@openssh.com', 'from="10.0.0.0/8",no-pty ', 'command="ls" ', '#', 'AAAA', '+/', '\r\n'];

/** `authorized_keys` and `.pub` lines (`tctl`'s and the API's `sshPublicKey` fields). */
export const sshKeyLine: Target<'text', SshPublicKey> = {
  name: 'ssh-key-line',
  description: 'one-line SSH keys with options and comments (parseAuthorizedKeyLine, parseSshPublicKey)',
  kind: 'text',
  seeds: () => [
    ...publicKeys().map((k, i) => formatAuthorizedKey(k, i % 2 ? 'alice@laptop' : '')),
    `from="10.0.0.0/8",command="echo \\"hi\\"" ${formatAuthorizedKey(publicKeys()[0]!, 'with options')}`,
  ],
  arbitrary: (seeds) => fc.oneof({ weight: 8, arbitrary: mutatedText(seeds, LINE_TOKENS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) }),
  parse(input) {
    parseAuthorizedKeyLine(input);
    const key = parseSshPublicKey(input);
    void key.key;
    return key;
  },
  check: checkKey,
};

/** OpenSSH certificates: the full parser and the light summary `tsh status` uses must agree. */
export const sshCertificate: Target<'bytes', SshCertificate> = {
  name: 'ssh-certificate',
  description: 'OpenSSH certificates (parseSshCertificate, and summarizeSshCertificate agrees with it)',
  kind: 'bytes',
  seeds: () => fixtureCertificates().map((c) => c.blob),
  arbitrary: (seeds) => fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeds) }, { weight: 1, arbitrary: randomBytes(64) }),
  parse(input) {
    const cert = parseSshCertificate(input);
    void cert.publicKey.key; // a key that does not import is refused when it is first used
    void cert.signatureKey.key;
    return cert;
  },
  check(cert, input) {
    const summary = summarizeSshCertificate(input);
    const { type, serial, certType, keyId, validPrincipals, validAfter, validBefore, criticalOptions, extensions } = cert;
    if (!isDeepStrictEqual(summary, { type, serial, certType, keyId, validPrincipals, validAfter, validBefore, criticalOptions, extensions })) {
      fail('summarizeSshCertificate and parseSshCertificate disagree');
    }
    checkKey(cert.publicKey);
    checkKey(cert.signatureKey);
  },
};
