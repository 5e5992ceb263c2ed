import { createPublicKey, X509Certificate } from 'node:crypto';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../../clock/index.js';
import { newCertAuthority, tlsSigningKeyPair, type CertAuthority } from '../authority.js';
import { generateKeyPair, type KeyPairPem } from '../keys.js';
import { pemToDer } from '../pem.js';
import { makeTempDir, runTool, type TempDir } from '../testing/run.js';
import { issueDatabaseClientCert, issueDatabaseServerCert, issueHostCert, issueUserCert } from './issue.js';
import { parseX509Certificate } from './x509.js';

const openssl = requireTool('openssl', 'openssl');

const HOUR = 3600_000;

describe.skipIf(!openssl.available)('X.509 issuance checked by openssl', () => {
  // openssl verify uses the real time, so the fake clock starts at the real now.
  const clock = newFakeClock(new Date());
  const inOneHour = () => new Date(clock.now().getTime() + HOUR);
  let dir: TempDir;
  let userCa: CertAuthority;
  let hostCa: CertAuthority;
  let dbCa: CertAuthority;
  let dbClientCa: CertAuthority;
  let otherUserCa: CertAuthority;
  let ecKeys: KeyPairPem;
  let rsaKeys: KeyPairPem;

  beforeAll(async () => {
    dir = await makeTempDir();
    [userCa, hostCa, dbCa, dbClientCa, otherUserCa, ecKeys, rsaKeys] = await Promise.all([
      newCertAuthority({ clusterName: 'example.com', type: 'user', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'host', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'db', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'db_client', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'user', clock }),
      generateKeyPair('ecdsa-p256'),
      generateKeyPair('rsa-2048'),
    ]);
  });
  afterAll(() => dir?.remove());

  const caFile = (ca: CertAuthority) => dir.write(`${ca.spec.type}-${Math.random()}.pem`, tlsSigningKeyPair(ca).cert);
  const verify = async (ca: CertAuthority, certPem: string, purpose?: string) => {
    const args = ['verify', '-CAfile', await caFile(ca)];
    if (purpose) args.push('-purpose', purpose);
    args.push(await dir.write(`cert-${Math.random()}.pem`, certPem));
    return runTool('openssl', args);
  };
  const text = async (certPem: string) =>
    (await runTool('openssl', ['x509', '-text', '-noout', '-in', await dir.write(`t-${Math.random()}.pem`, certPem)]))
      .stdout;

  it('issues a user certificate that openssl verifies against the user CA, with the identity in the subject', async () => {
    const cert = await issueUserCert({
      ca: tlsSigningKeyPair(userCa),
      publicKey: ecKeys.publicKeyPem,
      clock,
      identity: {
        username: 'alice',
        roles: ['access', 'editor'],
        logins: ['root', 'alice'],
        traits: { logins: ['root'] },
        routeToCluster: 'leaf.example.com',
        teleportCluster: 'example.com',
        routeToDatabase: { serviceName: 'pg-main', protocol: 'postgres', username: 'alice', database: 'orders' },
        expires: inOneHour(),
      },
    });
    const ok = await verify(userCa, cert, 'sslclient');
    expect(ok.stdout + ok.stderr).toMatch(/: OK/);
    expect(ok.code).toBe(0);

    const t = await text(cert);
    expect(t).toContain(
      'Subject: L = root, L = alice, street = leaf.example.com, postalCode = {\\"logins\\":[\\"root\\"]}, O = access, O = editor, CN = alice, 1.3.9999.1.7 = example.com, 1.3.9999.2.1 = pg-main, 1.3.9999.2.2 = postgres, 1.3.9999.2.3 = alice, 1.3.9999.2.4 = orders\n',
    );
    expect(t).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(t).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(t).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(t).toContain('X509v3 Authority Key Identifier');
    expect(t).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(t).toContain('Issuer: CN = example.com, O = example.com');
    // Not a server certificate.
    expect((await verify(userCa, cert, 'sslserver')).code).not.toBe(0);
  });

  it('refuses, in openssl, a user certificate checked against another CA with the same name', async () => {
    const cert = await issueUserCert({
      ca: tlsSigningKeyPair(otherUserCa),
      publicKey: ecKeys.publicKeyPem,
      clock,
      identity: { username: 'mallory', roles: ['access'], logins: [], traits: {}, expires: inOneHour() },
    });
    const res = await verify(userCa, cert);
    expect(res.code).not.toBe(0);
    expect(res.stdout + res.stderr).toMatch(/unable to get local issuer certificate|certificate signature failure/);
  });

  it('issues a host certificate with the system role, SANs and both TLS usages', async () => {
    const cert = await issueHostCert({
      ca: tlsSigningKeyPair(hostCa),
      publicKey: ecKeys.publicKeyPem,
      hostId: '5b7d2a1c-0000-4000-8000-000000000001',
      clusterName: 'example.com',
      systemRole: 'Proxy',
      dnsNames: ['proxy.example.com', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1', '2001:db8::42'],
      expires: inOneHour(),
      clock,
    });
    expect((await verify(hostCa, cert, 'sslserver')).code).toBe(0);
    expect((await verify(hostCa, cert, 'sslclient')).code).toBe(0);
    expect((await verify(userCa, cert)).code).not.toBe(0);
    const t = await text(cert);
    expect(t).toContain('Subject: O = Proxy, CN = 5b7d2a1c-0000-4000-8000-000000000001.example.com, 1.3.9999.1.7 = example.com\n');
    expect(t).toMatch(/DNS:proxy\.example\.com, DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:42/);
    expect(t).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
  });

  it('issues a database server certificate from the db CA (RSA): CN = first host, SANs, serverAuth only', async () => {
    const cert = await issueDatabaseServerCert({
      ca: tlsSigningKeyPair(dbCa),
      publicKey: rsaKeys.publicKeyPem,
      hosts: ['db.internal', 'localhost', '10.0.0.5'],
      expires: inOneHour(),
      clock,
    });
    expect((await verify(dbCa, cert, 'sslserver')).code).toBe(0);
    expect((await verify(dbClientCa, cert)).code).not.toBe(0);
    const t = await text(cert);
    expect(t).toContain('Subject: CN = db.internal\n');
    expect(t).toContain('DNS:db.internal, DNS:localhost, IP Address:10.0.0.5');
    expect(t).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(t).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    expect(t).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\n/);
  });

  it('issues a database client certificate from the db_client CA: CN = db user, clientAuth', async () => {
    const cert = await issueDatabaseClientCert({
      ca: tlsSigningKeyPair(dbClientCa),
      publicKey: createPublicKey(ecKeys.publicKeyPem),
      dbUser: 'alice',
      expires: inOneHour(),
      clock,
    });
    expect((await verify(dbClientCa, cert, 'sslclient')).code).toBe(0);
    expect((await verify(dbCa, cert)).code).not.toBe(0);
    const t = await text(cert);
    expect(t).toContain('Subject: CN = alice\n');
    expect(t).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication\n/);
    expect(t).not.toContain('Subject Alternative Name');
  });

  it('backdates NotBefore by one minute and uses 128-bit positive serial numbers', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const cert = parseX509Certificate(
        await issueDatabaseClientCert({ ca: tlsSigningKeyPair(dbClientCa), publicKey: ecKeys.publicKeyPem, dbUser: 'u', expires: inOneHour(), clock }),
      );
      const now = Math.floor(clock.now().getTime() / 1000) * 1000;
      expect(now - cert.notBefore.getTime()).toBeGreaterThanOrEqual(60_000);
      expect(now - cert.notBefore.getTime()).toBeLessThan(61_000);
      const serial = Buffer.from(cert.serialNumber, 'hex');
      expect(serial.length).toBeLessThanOrEqual(16);
      serials.add(cert.serialNumber);
    }
    expect(serials.size).toBe(20);
  });

  it('refuses to issue past the CA expiry or with an expiry in the past', async () => {
    const base = { ca: tlsSigningKeyPair(dbClientCa), publicKey: ecKeys.publicKeyPem, dbUser: 'u', clock };
    await expect(issueDatabaseClientCert({ ...base, expires: new Date(clock.now().getTime() - 1000) })).rejects.toMatchObject({
      kind: 'bad-parameter',
    });
    await expect(
      issueDatabaseClientCert({ ...base, expires: new Date(clock.now().getTime() + 11 * 365 * 24 * HOUR) }),
    ).rejects.toMatchObject({ kind: 'bad-parameter' });
  });

  it('writes certificates that OpenSSL, node:crypto and @peculiar/x509 all parse', async () => {
    const cert = await issueUserCert({
      ca: tlsSigningKeyPair(userCa),
      publicKey: rsaKeys.publicKeyPem,
      clock,
      identity: { username: 'bob', roles: ['a'], logins: ['b'], traits: {}, expires: inOneHour() },
    });
    const der = pemToDer(cert, 'CERTIFICATE');
    const parsed = await runTool('openssl', ['asn1parse', '-inform', 'DER', '-in', await dir.write(`d-${Math.random()}.der`, der)]);
    expect(parsed.code).toBe(0);
    expect(parsed.stdout).toContain(':rsaEncryption');
    expect(parsed.stdout).toContain(':ecdsa-with-SHA256');
    expect(new X509Certificate(der).subject).toBe('L=b\nO=a\nCN=bob');
    expect(parseX509Certificate(der).subject).toBe('L=b, O=a, CN=bob');
  });
});
