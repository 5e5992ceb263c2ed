/**
 * Unencrypted OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`, PROTOCOL.key). OpenSSH cannot load
 * PKCS#8 Ed25519 keys, so anything handed to `ssh -i`, `sshd HostKey` or `tsh` profiles for OpenSSH uses this.
 */

import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { sshPublicKeyFromKeyObject, ecdsaCurveOf } from './publickey.js';
import { sshMpint, sshString, sshUint32 } from './wire.js';

const AUTH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
/** Cipher block size of `none`, which the private section is padded to. */
const BLOCK_SIZE = 8;

const jwkBytes = (value: string | undefined): Buffer => {
  if (typeof value !== 'string') throw new BadParameterError('unsupported private key');
  return Buffer.from(value, 'base64url');
};

/**
 * Converts a private key (PKCS#8/PKCS#1/SEC1 PEM or a key object) to the OpenSSH format, unencrypted.
 *
 * @example
 * ```ts
 * const keys = await generateKeyPair('ed25519');
 * await writeFile(keyPath, toOpenSshPrivateKey(keys.privateKeyPem, 'alice'), { mode: 0o600 });
 * ```
 */
export function toOpenSshPrivateKey(privateKey: string | KeyObject, comment = ''): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.type !== 'private') throw new BadParameterError('expected a private key');
  const pub = sshPublicKeyFromKeyObject(key);
  const jwk = key.export({ format: 'jwk' });
  let privateFields: Buffer[];
  if (pub.type === 'ssh-ed25519') {
    const seed = jwkBytes(jwk.d);
    const pk = jwkBytes(jwk.x);
    privateFields = [sshString(pk), sshString(Buffer.concat([seed, pk]))];
  } else if (ecdsaCurveOf(pub.type)) {
    // Key fields as in the public blob (curve, point), then the scalar.
    const fields = pub.blob.subarray(4 + pub.blob.readUInt32BE(0));
    privateFields = [fields, sshMpint(jwkBytes(jwk.d))];
  } else {
    privateFields = [jwk.n, jwk.e, jwk.d, jwk.qi, jwk.p, jwk.q].map((v) => sshMpint(jwkBytes(v)));
  }
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, sshString(pub.type), ...privateFields, sshString(comment)]);
  const padLength = (BLOCK_SIZE - (section.length % BLOCK_SIZE)) % BLOCK_SIZE;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    AUTH_MAGIC,
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    sshUint32(1),
    sshString(pub.blob),
    sshString(section),
  ]);
  const b64 = body.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
