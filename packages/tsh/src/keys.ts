/**
 * The key pairs of a login, made locally with node:crypto in Teleport's balanced-v1 suite: Ed25519 for SSH (also
 * written in the OpenSSH private key format, which `ssh` requires for Ed25519) and ECDSA P-256 for TLS.
 *
 * Why not `core/ca`: its index loads `@peculiar/x509` through `createRequire`, which a CLI bundle can only resolve
 * when the CLI package itself depends on it, and which costs ~150 ms of startup. tsh needs two key types only.
 */

import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export interface LoginKeyPairs {
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`). A secret. */
  sshPrivateKey: string;
  /** `ssh-ed25519 AAAA... <comment>` */
  sshPublicKey: string;
  /** PKCS#8 PEM. A secret. */
  tlsPrivateKey: string;
  /** SubjectPublicKeyInfo PEM. */
  tlsPublicKey: string;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (v: Buffer | string): Buffer => {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  return Buffer.concat([u32(b.length), b]);
};

const ED25519 = 'ssh-ed25519';
/** `none` cipher block size: the private section is padded to it. */
const BLOCK_SIZE = 8;

function ed25519Parts(privateKey: KeyObject): { seed: Buffer; pub: Buffer } {
  const jwk = privateKey.export({ format: 'jwk' });
  return { seed: Buffer.from(jwk.d ?? '', 'base64url'), pub: Buffer.from(jwk.x ?? '', 'base64url') };
}

/** `ssh-ed25519 <base64 blob> <comment>` */
export function ed25519PublicKeyLine(pub: Buffer, comment: string): string {
  const blob = Buffer.concat([sshString(ED25519), sshString(pub)]);
  return `${ED25519} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/** An unencrypted OpenSSH private key (PROTOCOL.key) for an Ed25519 key. */
export function ed25519OpenSshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const pubBlob = Buffer.concat([sshString(ED25519), sshString(pub)]);
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, sshString(ED25519), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
  const padLength = (BLOCK_SIZE - (section.length % BLOCK_SIZE)) % BLOCK_SIZE;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    u32(1),
    sshString(pubBlob),
    sshString(section),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/**
 * @example
 * ```ts
 * const keys = await generateLoginKeys('alice');
 * keys.sshPublicKey; // 'ssh-ed25519 AAAAC3Nza... alice'
 * ```
 */
export async function generateLoginKeys(comment: string): Promise<LoginKeyPairs> {
  const [ssh, tls] = await Promise.all([generate('ed25519'), generate('ec', { namedCurve: 'P-256' })]);
  const { seed, pub } = ed25519Parts(ssh.privateKey);
  return {
    sshPrivateKey: ed25519OpenSshPrivateKey(seed, pub, comment),
    sshPublicKey: ed25519PublicKeyLine(pub, comment),
    tlsPrivateKey: tls.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    tlsPublicKey: tls.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}
