import { readFile } from 'node:fs/promises';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../../clock/index.js';
import { generateKeyPair, type KeyAlgorithm, type KeyPairPem } from '../keys.js';
import { makeTempDir, runTool, type TempDir } from '../testing/run.js';
import { formatSshCertificate, parseSshCertificate, sshCaSigner, SSH_CERT_VALID_FOREVER } from './certificate.js';
import { issueOpenSshHostCert, issueSshHostCert, issueSshUserCert, sshUserIdentity } from './issue.js';
import { toOpenSshPrivateKey } from './privatekey.js';
import { parseAuthorizedKeyLine, parseSshPublicKey, sshFingerprint } from './publickey.js';
import type { SshRsaSignatureAlgorithm } from './signature.js';
import { verifySshCert } from './verify.js';

const sshKeygen = requireTool('ssh-keygen', 'openssh-client');

const HOUR = 3600_000;
const ALGORITHMS: KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'rsa-2048'];
const KEY_LABEL: Record<KeyAlgorithm, string> = { ed25519: 'ED25519', 'ecdsa-p256': 'ECDSA', 'rsa-2048': 'RSA' };
const CERT_TYPE: Record<KeyAlgorithm, string> = {
  ed25519: 'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-p256': 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'rsa-2048': 'ssh-rsa-cert-v01@openssh.com',
};

/** `ssh-keygen -L` prints times in local time; runTool sets TZ=UTC. Seconds are dropped, as ssh-keygen prints them. */
const sshKeygenTime = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString().slice(0, 19);

describe('OpenSSH certificates: encoding and parsing', () => {
  const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
  const keys = {} as Record<KeyAlgorithm, KeyPairPem>;
  const cas = {} as Record<KeyAlgorithm, KeyPairPem>;

  beforeAll(async () => {
    for (const alg of ALGORITHMS) {
      [keys[alg], cas[alg]] = await Promise.all([generateKeyPair(alg, { comment: `key-${alg}` }), generateKeyPair(alg)]);
    }
  });

  it('round-trips a user certificate through format -> parse', async () => {
    const cert = await issueSshUserCert({
      ca: cas.ed25519.privateKeyPem,
      publicKey: keys['ecdsa-p256'].sshPublicKey,
      username: 'alice',
      logins: ['root', 'alice'],
      roles: ['access', 'editor'],
      traits: { logins: ['root'], db_users: [] },
      routeToCluster: 'leaf.example.com',
      permitPortForwarding: true,
      expires: new Date(clock.now().getTime() + 8 * HOUR),
      clock,
      serial: 7n,
    });
    const parsed = parseSshCertificate(formatSshCertificate(cert, 'alice'));
    expect(parsed.blob.equals(cert.blob)).toBe(true);
    expect(parsed).toMatchObject({
      type: 'ecdsa-sha2-nistp256-cert-v01@openssh.com',
      certType: 'user',
      serial: 7n,
      keyId: 'alice',
      validPrincipals: ['root', 'alice'],
      criticalOptions: {},
    });
    expect(parsed.publicKey.blob.equals(parseSshPublicKey(keys['ecdsa-p256'].sshPublicKey).blob)).toBe(true);
    expect(parsed.signatureKey.blob.equals(parseSshPublicKey(cas.ed25519.sshPublicKey).blob)).toBe(true);
    expect(parsed.validAfter).toBe(BigInt(clock.now().getTime() / 1000 - 60));
    expect(sshUserIdentity(parsed)).toEqual({
      username: 'alice',
      logins: ['root', 'alice'],
      roles: ['access', 'editor'],
      traits: { logins: ['root'], db_users: [] },
      routeToCluster: 'leaf.example.com',
      expires: new Date(clock.now().getTime() + 8 * HOUR),
      permitPty: true,
      permitPortForwarding: true,
      permitAgentForwarding: false,
      permitX11Forwarding: false,
      forceCommand: undefined,
    });
    expect(JSON.parse(parsed.extensions['teleport-roles']!)).toEqual({ version: 'v1', roles: ['access', 'editor'] });
  });

  it('writes host certificates with Teleport principals and no expiry by default', async () => {
    const cert = await issueSshHostCert({
      ca: cas.ed25519.privateKeyPem,
      publicKey: keys.ed25519.sshPublicKey,
      hostId: 'c0ffee00-0000-4000-8000-000000000001',
      clusterName: 'example.com',
      nodeName: 'node-1',
      systemRole: 'Node',
      additionalPrincipals: ['localhost', '127.0.0.1', '::1', 'node-1'],
      clock,
    });
    expect(cert.validPrincipals).toEqual([
      'c0ffee00-0000-4000-8000-000000000001.example.com',
      'c0ffee00-0000-4000-8000-000000000001',
      'node-1',
      'localhost',
      '127.0.0.1',
      '::1',
    ]);
    expect(cert.validBefore).toBe(SSH_CERT_VALID_FOREVER);
    expect(cert.extensions).toEqual({ 'x-teleport-authority': 'example.com', 'x-teleport-role': 'Node' });
  });

  it('writes host certificates for an OpenSSH server: exactly the given host names, an empty key id, role Node', async () => {
    const expires = new Date(clock.now().getTime() + HOUR);
    const cert = await issueOpenSshHostCert({
      ca: cas.ed25519.privateKeyPem,
      publicKey: keys.ed25519.sshPublicKey,
      principals: ['db1.example.com', '10.0.0.7', 'db1.example.com'],
      clusterName: 'example.com',
      expires,
      clock,
    });
    expect(cert.certType).toBe('host');
    expect(cert.keyId).toBe('');
    expect(cert.validPrincipals).toEqual(['db1.example.com', '10.0.0.7']);
    expect(cert.validBefore).toBe(BigInt(expires.getTime() / 1000));
    expect(cert.extensions).toEqual({ 'x-teleport-authority': 'example.com', 'x-teleport-role': 'Node' });
    // No principals would mean every host name.
    await expect(issueOpenSshHostCert({ ca: cas.ed25519.privateKeyPem, publicKey: keys.ed25519.sshPublicKey, principals: [], clusterName: 'example.com', clock })).rejects.toThrow(
      'an SSH host certificate needs at least one host name',
    );
  });

  it('refuses malformed input: truncated, trailing bytes, unsorted extensions, a plain key', async () => {
    const cert = await issueSshUserCert({
      ca: cas.ed25519.privateKeyPem,
      publicKey: keys.ed25519.sshPublicKey,
      username: 'a',
      logins: ['a'],
      roles: [],
      expires: new Date(clock.now().getTime() + HOUR),
      clock,
    });
    expect(() => parseSshCertificate(cert.blob.subarray(0, cert.blob.length - 1))).toThrow(/malformed/);
    expect(() => parseSshCertificate(Buffer.concat([cert.blob, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => parseSshCertificate(keys.ed25519.sshPublicKey)).toThrow(/unsupported SSH certificate type/);
    // A length field that claims more than there is.
    const lying = Buffer.from(cert.blob);
    lying.writeUInt32BE(0x7fffffff, 0);
    expect(() => parseSshCertificate(lying)).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
  });

  it('parses the authorized_keys line format, with options and comments', () => {
    const line = `from="10.0.0.0/8,192.168.0.1",command="echo \\"hi there\\"",no-pty ${keys.ed25519.sshPublicKey}`;
    const parsed = parseAuthorizedKeyLine(line);
    expect(parsed.options).toBe('from="10.0.0.0/8,192.168.0.1",command="echo \\"hi there\\"",no-pty');
    expect(parsed.type).toBe('ssh-ed25519');
    expect(parsed.comment).toBe('key-ed25519');
    const [type, b64] = keys.ed25519.sshPublicKey.split(' ');
    expect(() => parseAuthorizedKeyLine(`ssh-rsa ${b64}`)).toThrow(/says "ssh-rsa"/);
    expect(parseAuthorizedKeyLine(`${type} ${b64}`).comment).toBe('');
  });

  describe.skipIf(!sshKeygen.available)('against ssh-keygen', () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await makeTempDir();
    });
    afterAll(() => dir?.remove());

    const caCases: Array<[KeyAlgorithm, SshRsaSignatureAlgorithm | undefined, string]> = [
      ['ed25519', undefined, 'ssh-ed25519'],
      ['ecdsa-p256', undefined, 'ecdsa-sha2-nistp256'],
      ['rsa-2048', 'rsa-sha2-256', 'rsa-sha2-256'],
      ['rsa-2048', undefined, 'rsa-sha2-512'],
    ];

    for (const [caAlg, rsaSignatureAlgorithm, sigName] of caCases) {
      for (const keyAlg of ALGORITHMS) {
        it(`ssh-keygen -L reads a user certificate for a ${keyAlg} key signed by a ${caAlg} CA (${sigName})`, async () => {
          const expires = new Date(clock.now().getTime() + 2 * HOUR);
          const cert = await issueSshUserCert({
            ca: sshCaSigner(cas[caAlg].privateKeyPem, rsaSignatureAlgorithm ? { rsaSignatureAlgorithm } : {}),
            publicKey: keys[keyAlg].sshPublicKey,
            username: 'alice',
            logins: ['root', 'alice'],
            roles: ['access'],
            traits: { logins: ['root'] },
            routeToCluster: 'example.com',
            permitAgentForwarding: true,
            permitX11Forwarding: true,
            permitPortForwarding: true,
            expires,
            clock,
            serial: 1234n,
          });
          const file = await dir.write(`${caAlg}-${sigName}-${keyAlg}-cert.pub`, formatSshCertificate(cert) + '\n');
          const res = await runTool('ssh-keygen', ['-L', '-f', file]);
          expect(res.stderr).toBe('');
          expect(res.code).toBe(0);
          const out = res.stdout;
          expect(out).toContain(`Type: ${CERT_TYPE[keyAlg]} user certificate`);
          expect(out).toContain(`Public key: ${KEY_LABEL[keyAlg]}-CERT ${sshFingerprint(cert.publicKey.blob)}`);
          expect(out).toContain(`Signing CA: ${KEY_LABEL[caAlg]} ${sshFingerprint(cert.signatureKey.blob)} (using ${sigName})`);
          expect(out).toContain('Key ID: "alice"');
          expect(out).toContain('Serial: 1234');
          expect(out).toContain(`Valid: from ${sshKeygenTime(cert.validAfter)} to ${sshKeygenTime(cert.validBefore)}`);
          expect(out).toMatch(/Principals: \n\s+root\n\s+alice\n/);
          expect(out).toMatch(/Critical Options: \(none\)/);
          const extensions = out.slice(out.indexOf('Extensions:'));
          for (const ext of ['permit-X11-forwarding', 'permit-agent-forwarding', 'permit-port-forwarding', 'permit-pty']) {
            expect(extensions).toMatch(new RegExp(`\\n\\s+${ext}\\n`));
          }
          expect(extensions).toMatch(/teleport-roles UNKNOWN OPTION/);
          expect(extensions).toMatch(/teleport-traits UNKNOWN OPTION/);
          expect(extensions).toMatch(/teleport-route-to-cluster UNKNOWN OPTION/);
          expect(extensions).not.toContain('permit-user-rc');
        });
      }
    }

    it('ssh-keygen -L reads a host certificate', async () => {
      const cert = await issueSshHostCert({
        ca: cas['ecdsa-p256'].privateKeyPem,
        publicKey: keys.ed25519.sshPublicKey,
        hostId: 'c0ffee00-0000-4000-8000-000000000001',
        clusterName: 'example.com',
        nodeName: 'node-1',
        systemRole: 'Node',
        additionalPrincipals: ['localhost', '127.0.0.1', '::1'],
        clock,
      });
      const res = await runTool('ssh-keygen', ['-L', '-f', await dir.write('host-cert.pub', formatSshCertificate(cert) + '\n')]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('Type: ssh-ed25519-cert-v01@openssh.com host certificate');
      expect(res.stdout).toContain('Key ID: "c0ffee00-0000-4000-8000-000000000001.example.com"');
      expect(res.stdout).toContain(`Valid: after ${sshKeygenTime(cert.validAfter)}\n`);
      expect(res.stdout).toMatch(
        /Principals: \n\s+c0ffee00-0000-4000-8000-000000000001\.example\.com\n\s+c0ffee00-0000-4000-8000-000000000001\n\s+node-1\n\s+localhost\n\s+127\.0\.0\.1\n\s+::1\n/,
      );
      expect(res.stdout).toMatch(/x-teleport-role UNKNOWN OPTION/);
    });

    it('ssh-keygen -L shows critical options we write', async () => {
      const cert = await issueSshUserCert({
        ca: cas.ed25519.privateKeyPem,
        publicKey: keys.ed25519.sshPublicKey,
        username: 'bot',
        logins: ['bot'],
        roles: [],
        permitPty: false,
        forceCommand: '/usr/bin/backup --now',
        sourceAddresses: ['10.0.0.0/8', '192.168.1.1'],
        expires: new Date(clock.now().getTime() + HOUR),
        clock,
      });
      const res = await runTool('ssh-keygen', ['-L', '-f', await dir.write('crit-cert.pub', formatSshCertificate(cert) + '\n')]);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/Critical Options: \n\s+force-command \/usr\/bin\/backup --now\n\s+source-address 10\.0\.0\.0\/8,192\.168\.1\.1\n/);
      expect(res.stdout).not.toContain('permit-pty');
    });

    it('parses and verifies certificates that ssh-keygen signed, for every CA type', async () => {
      for (const caAlg of ALGORITHMS) {
        const caPath = await dir.write(`kg-ca-${caAlg}`, toOpenSshPrivateKey(cas[caAlg].privateKeyPem));
        const keyPath = await dir.write(`kg-key-${caAlg}.pub`, keys['ecdsa-p256'].sshPublicKey + '\n');
        const sign = await runTool('ssh-keygen', [
          '-q', '-s', caPath, '-I', 'carol', '-n', 'carol,root', '-V', '-5m:+1h', '-z', '99',
          '-O', 'force-command=/bin/true', '-O', 'extension:teleport-roles={"version":"v1","roles":["x"]}', keyPath,
        ]);
        expect(sign.stderr).toBe('');
        const line = await readFile(keyPath.replace(/\.pub$/, '-cert.pub'), 'utf8');
        const { certificate } = verifySshCert(line, {
          trustedCaKeys: [cas[caAlg].sshPublicKey],
          certType: 'user',
          principal: 'carol',
          clock: newFakeClock(new Date()),
        });
        expect(certificate).toMatchObject({ keyId: 'carol', serial: 99n, validPrincipals: ['carol', 'root'] });
        expect(certificate.criticalOptions).toEqual({ 'force-command': '/bin/true' });
        expect(sshUserIdentity(certificate).roles).toEqual(['x']);
        expect(sshUserIdentity(certificate).permitPty).toBe(true);
      }
    });

    it('writes OpenSSH private keys that ssh-keygen loads, for every algorithm', async () => {
      for (const alg of ALGORITHMS) {
        const path = await dir.write(`priv-${alg}`, toOpenSshPrivateKey(keys[alg].privateKeyPem, 'me'));
        const res = await runTool('ssh-keygen', ['-y', '-f', path]);
        expect(res.stderr).toBe('');
        expect(res.stdout.trim().split(' ').slice(0, 2)).toEqual(keys[alg].sshPublicKey.split(' ').slice(0, 2));
      }
    });
  });
});
