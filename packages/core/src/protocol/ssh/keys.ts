/**
 * Keys for ssh2 with OpenSSH certificates. ssh2 parses private keys but not certificates; a certificate key here is
 * ssh2's own parsed private key (so it signs as usual) whose type and public blob are the certificate's. The patch
 * in `patches/ssh2@*.patch` makes ssh2 name the base algorithm inside signatures made with such a key, as OpenSSH
 * expects (docs/architecture.md, "ssh2 and OpenSSH certificates").
 */

import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { BadParameterError } from '../../errors/index.js';
import { toOpenSshPrivateKey } from '../../ca/sshca/privatekey.js';
import { readSshCertHead } from '../../ca/sshca/summary.js';

/** Certificate key types ssh2 can sign with (RSA certificates are not supported: Teleport's keys are Ed25519/ECDSA). */
export const SSH_CERT_KEY_TYPES = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
] as const;

/** Parses a private key (PKCS#8/SEC1 PEM or OpenSSH) into ssh2's form. */
export function parseSsh2PrivateKey(privateKey: string): ParsedKey {
  const text = privateKey.includes('OPENSSH PRIVATE KEY') ? privateKey : toOpenSshPrivateKey(privateKey);
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (key === undefined || key instanceof Error || !key.isPrivateKey()) throw new BadParameterError('unsupported SSH private key');
  return key;
}

/**
 * The private key presenting `certificate` (an OpenSSH `-cert.pub` line or blob) instead of its bare public key:
 * a client's user certificate or a server's host certificate. Refuses a certificate of another key.
 *
 * @example
 * ```ts
 * const key = sshCertKey(keys.privateKeyPem, certLine); // key.type === 'ssh-ed25519-cert-v01@openssh.com'
 * ```
 */
export function sshCertKey(privateKey: string, certificate: string | Uint8Array): ParsedKey {
  const key = parseSsh2PrivateKey(privateKey);
  const head = readSshCertHead(certificate);
  if (!(SSH_CERT_KEY_TYPES as readonly string[]).includes(head.type)) {
    throw new BadParameterError(`unsupported SSH certificate type ${JSON.stringify(head.type)}`, { hint: 'use an Ed25519 or ECDSA key' });
  }
  const blob = Buffer.from(head.blob);
  // The certificate's key fields follow its type and nonce; the bare key's follow its type.
  const bare = key.getPublicSSH();
  const fields = bare.subarray(4 + bare.readUInt32BE(0));
  const sameKey = key.type === head.keyType && blob.subarray(head.reader.offset, head.reader.offset + fields.length).equals(fields);
  if (!sameKey) throw new BadParameterError('the SSH certificate is not for this private key');
  const certKey = Object.create(key) as ParsedKey & { type: string };
  Object.defineProperty(certKey, 'type', { value: head.type, enumerable: true });
  Object.defineProperty(certKey, 'getPublicSSH', { value: () => blob });
  return certKey;
}

