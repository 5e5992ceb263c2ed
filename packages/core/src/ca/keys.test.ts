import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BALANCED_V1, generateKeyPair, KEY_ALGORITHMS, keyAlgorithmOf, sshPublicKeyLine } from './keys.js';
import { parseSshPublicKey } from './sshca/publickey.js';

describe('generateKeyPair', () => {
  it.each([
    ['ed25519', 'ed25519', 'ssh-ed25519'],
    ['ecdsa-p256', 'ec', 'ecdsa-sha2-nistp256'],
    ['rsa-2048', 'rsa', 'ssh-rsa'],
  ] as const)('generates %s keys as PKCS#8, SPKI and an OpenSSH line', async (algorithm, nodeType, sshType) => {
    const keys = await generateKeyPair(algorithm, { comment: 'alice@example.com' });
    expect(keys.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(keys.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(createPrivateKey(keys.privateKeyPem).asymmetricKeyType).toBe(nodeType);
    expect(keys.sshPublicKey).toMatch(new RegExp(`^${sshType} AAAA[A-Za-z0-9+/=]+ alice@example\\.com$`));
    // The SSH line holds the same key as the PEM.
    const fromLine = parseSshPublicKey(keys.sshPublicKey).key.export({ type: 'spki', format: 'der' });
    expect(fromLine.equals(createPublicKey(keys.publicKeyPem).export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(keyAlgorithmOf(keys.privateKeyPem)).toBe(algorithm);
    expect(keyAlgorithmOf(keys.publicKeyPem)).toBe(algorithm);
    expect(sshPublicKeyLine(keys.privateKeyPem, 'alice@example.com')).toBe(keys.sshPublicKey);
  });

  it('follows balanced-v1: Ed25519 for SSH, ECDSA P-256 for TLS, RSA-2048 for the database CAs', () => {
    expect(BALANCED_V1).toMatchObject({
      'ssh-ca': 'ed25519',
      'ssh-user': 'ed25519',
      'ssh-host': 'ed25519',
      'tls-ca': 'ecdsa-p256',
      'tls-user': 'ecdsa-p256',
      'tls-host': 'ecdsa-p256',
      'db-ca': 'rsa-2048',
      'db-client-ca': 'rsa-2048',
    });
    expect(KEY_ALGORITHMS).toEqual(['ed25519', 'ecdsa-p256', 'rsa-2048']);
  });

  it('refuses an unknown algorithm', async () => {
    await expect(generateKeyPair('dsa' as never)).rejects.toMatchObject({ kind: 'bad-parameter' });
  });
});
