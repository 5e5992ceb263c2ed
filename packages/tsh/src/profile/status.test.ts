import { describe, expect, it } from 'vitest';
import { formatSshCertificate, generateKeyPair, issueSshUserCert } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { readSshCertSummary } from './status.js';

describe('readSshCertSummary', () => {
  it('reads what core/ca issues', async () => {
    const clock = newFakeClock(new Date('2026-11-21T06:00:00Z'));
    const ca = await generateKeyPair('ed25519');
    for (const algorithm of ['ed25519', 'ecdsa-p256', 'rsa-2048'] as const) {
      const subject = await generateKeyPair(algorithm);
      const cert = await issueSshUserCert({
        ca: ca.privateKeyPem,
        publicKey: subject.sshPublicKey,
        username: 'alice',
        logins: ['alice', 'root'],
        roles: ['access'],
        traits: { logins: ['alice', 'root'] },
        expires: new Date('2026-11-21T18:00:00Z'),
        clock,
      });
      const summary = readSshCertSummary(formatSshCertificate(cert, 'alice'));
      expect(summary.keyId).toBe('alice');
      expect(summary.principals).toEqual(['alice', 'root']);
      expect(summary.validBefore).toBe(Date.parse('2026-11-21T18:00:00Z') / 1000);
      expect(JSON.parse(summary.extensions['teleport-roles']!)).toMatchObject({ roles: ['access'] });
      expect(summary.extensions['permit-pty']).toBe('');
    }
  });

  it('refuses what is not an SSH user certificate', async () => {
    const key = await generateKeyPair('ed25519');
    expect(() => readSshCertSummary(key.sshPublicKey)).toThrow(/malformed SSH certificate/);
    expect(() => readSshCertSummary('ssh-ed25519-cert-v01@openssh.com AAAA')).toThrow(/malformed/);
    expect(() => readSshCertSummary('')).toThrow(/malformed/);
  });
});
