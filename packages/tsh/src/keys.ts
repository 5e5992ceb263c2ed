/**
 * The key pairs of a login, made locally in Teleport's balanced-v1 suite with core's light key generation: Ed25519
 * for SSH (also written in the OpenSSH private key format, which `ssh` requires for Ed25519) and ECDSA P-256 for TLS.
 */

import { BALANCED_V1, generateKeyPair, toOpenSshPrivateKey } from '@teleport-ts/core/ca/keygen';

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

/**
 * @example
 * ```ts
 * const keys = await generateLoginKeys('alice');
 * keys.sshPublicKey; // 'ssh-ed25519 AAAAC3Nza... alice'
 * ```
 */
export async function generateLoginKeys(comment: string): Promise<LoginKeyPairs> {
  const [ssh, tls] = await Promise.all([generateKeyPair(BALANCED_V1['ssh-user'], { comment }), generateKeyPair(BALANCED_V1['tls-user'])]);
  return {
    sshPrivateKey: toOpenSshPrivateKey(ssh.privateKeyPem, comment),
    sshPublicKey: ssh.sshPublicKey,
    tlsPrivateKey: tls.privateKeyPem,
    tlsPublicKey: tls.publicKeyPem,
  };
}
