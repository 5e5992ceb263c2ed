import { describe, expect, it } from 'vitest';
import { systemClock } from '../../clock/index.js';
import { generateKeyPair } from '../../ca/keys.js';
import { formatSshCertificate } from '../../ca/sshca/certificate.js';
import { issueSshUserCert } from '../../ca/sshca/issue.js';
import { sshCertKey } from './keys.js';

describe('sshCertKey', () => {
  const cert = async (ca: string, publicKey: string) =>
    formatSshCertificate(await issueSshUserCert({
      ca, publicKey, username: 'alice', logins: ['root'], roles: ['access'], expires: new Date(Date.now() + 3_600_000), clock: systemClock,
    }));

  it('presents the certificate and signs with the private key', async () => {
    const [ca, key] = await Promise.all([generateKeyPair('ed25519'), generateKeyPair('ecdsa-p256')]);
    const line = await cert(ca.privateKeyPem, key.sshPublicKey);
    const certKey = sshCertKey(key.privateKeyPem, line);
    expect(certKey.type).toBe('ecdsa-sha2-nistp256-cert-v01@openssh.com');
    expect(certKey.getPublicSSH().toString('base64')).toBe(line.split(' ')[1]);
    expect(certKey.isPrivateKey()).toBe(true);
  });

  it('refuses a certificate of another key, and RSA certificates', async () => {
    const [ca, key, other, rsa] = await Promise.all([generateKeyPair('ed25519'), generateKeyPair('ed25519'), generateKeyPair('ed25519'), generateKeyPair('rsa-2048')]);
    const line = await cert(ca.privateKeyPem, key.sshPublicKey);
    expect(() => sshCertKey(other.privateKeyPem, line)).toThrow('the SSH certificate is not for this private key');
    const rsaLine = await cert(ca.privateKeyPem, rsa.sshPublicKey);
    expect(() => sshCertKey(rsa.privateKeyPem, rsaLine)).toThrow('unsupported SSH certificate type "ssh-rsa-cert-v01@openssh.com"');
  });
});
