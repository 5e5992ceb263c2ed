import { beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../../clock/index.js';
import { newCertAuthority, tlsSigningKeyPair, type CertAuthority } from '../authority.js';
import { generateKeyPair, type KeyPairPem } from '../keys.js';
import { encodeIdentity, parseIdentity, type Identity } from './identity.js';
import { issueDatabaseClientCert, issueHostCert, issueUserCert } from './issue.js';
import { verifyTlsCert } from './verify.js';

const HOUR = 3600_000;
const T0 = new Date('2026-03-01T12:00:00.000Z');

describe('identity encoding and TLS verification', () => {
  const clock = newFakeClock(T0);
  let userCa: CertAuthority;
  let otherCa: CertAuthority;
  let hostCa: CertAuthority;
  let keys: KeyPairPem;

  beforeAll(async () => {
    [userCa, otherCa, hostCa, keys] = await Promise.all([
      newCertAuthority({ clusterName: 'example.com', type: 'user', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'user', clock }),
      newCertAuthority({ clusterName: 'example.com', type: 'host', clock }),
      generateKeyPair('ecdsa-p256'),
    ]);
  });

  const issue = (identity: Identity, ca = userCa) =>
    issueUserCert({ ca: tlsSigningKeyPair(ca), publicKey: keys.publicKeyPem, identity, clock });

  it('round-trips a full identity through issue -> parse, including expiry', async () => {
    const identity: Identity = {
      username: 'alice@example.com',
      roles: ['access', 'editor', 'db-admin'],
      logins: ['root', 'alice', 'ubuntu'],
      traits: { logins: ['root', 'alice'], db_users: ['alice'], 'kubernetes_groups': [], 'ünïcode': ['✓, "quoted" #hash = + ;'] },
      routeToCluster: 'leaf.example.com',
      teleportCluster: 'example.com',
      routeToDatabase: { serviceName: 'pg-main', protocol: 'postgres', username: 'alice', database: 'orders' },
      activeRequests: ['7d4c0b6e-1', '7d4c0b6e-2'],
      allowedResourceIds: ['/example.com/db/roach', '/example.com/db/pg-main'],
      expires: new Date(T0.getTime() + 8 * HOUR),
    };
    expect(parseIdentity(await issue(identity))).toEqual(identity);
  });

  it('round-trips a minimal identity and values that look like DN syntax', async () => {
    const identity: Identity = {
      username: '#not-hex, CN=evil+O=admin',
      roles: ['"role"', ''],
      logins: ['\\back'],
      traits: {},
      expires: new Date(T0.getTime() + HOUR),
    };
    expect(parseIdentity(await issue(identity))).toEqual(identity);
  });

  it('stores expiry with second precision', async () => {
    const expires = new Date(T0.getTime() + HOUR + 999);
    const parsed = parseIdentity(await issue({ username: 'a', roles: [], logins: [], traits: {}, expires }));
    expect(parsed.expires).toEqual(new Date(T0.getTime() + HOUR));
  });

  it('keeps roles and logins in order, one attribute per value', () => {
    const der = encodeIdentity({ username: 'u', roles: ['b', 'a'], logins: ['z', 'y'], traits: {}, expires: T0 });
    const text = der.toString('latin1');
    expect(text.indexOf('b')).toBeLessThan(text.lastIndexOf('a'));
    expect(text.indexOf('z')).toBeLessThan(text.indexOf('y'));
  });

  it('refuses an identity without a user name', () => {
    expect(() => encodeIdentity({ username: '', roles: [], logins: [], traits: {}, expires: T0 })).toThrow(/user name/);
  });

  it('verifies a user certificate against the trusted CAs and returns its identity', async () => {
    const identity: Identity = { username: 'alice', roles: ['access'], logins: ['root'], traits: {}, expires: new Date(T0.getTime() + HOUR) };
    const cert = await issue(identity);
    const caCert = tlsSigningKeyPair(userCa).cert;
    const verified = verifyTlsCert(cert, { trustedCaCerts: [tlsSigningKeyPair(otherCa).cert, caCert], clock, usage: 'clientAuth' });
    expect(verified.identity).toEqual(identity);
    expect(verified.caCert).toBe(caCert);
    expect(verified.notAfter).toEqual(identity.expires);
    expect(verified.serialNumber).toMatch(/^[0-9a-f]+$/);
  });

  it('refuses a certificate from a CA that is not trusted (same subject name, different key)', async () => {
    const cert = await issue({ username: 'mallory', roles: ['access'], logins: [], traits: {}, expires: new Date(T0.getTime() + HOUR) }, otherCa);
    expect(() => verifyTlsCert(cert, { trustedCaCerts: [tlsSigningKeyPair(userCa).cert], clock })).toThrow(
      expect.objectContaining({ kind: 'access-denied', code: 'ERR_TP_TLS_UNTRUSTED_CA' }),
    );
    expect(() => verifyTlsCert(cert, { trustedCaCerts: [], clock })).toThrow(/not signed by a trusted/);
  });

  it('refuses an expired certificate and one that is not yet valid', async () => {
    const cert = await issue({ username: 'a', roles: [], logins: [], traits: {}, expires: new Date(T0.getTime() + HOUR) });
    const trustedCaCerts = [tlsSigningKeyPair(userCa).cert];
    const later = newFakeClock(new Date(T0.getTime() + HOUR + 1000));
    expect(() => verifyTlsCert(cert, { trustedCaCerts, clock: later })).toThrow(expect.objectContaining({ code: 'ERR_TP_TLS_CERT_EXPIRED' }));
    const earlier = newFakeClock(new Date(T0.getTime() - 2 * 60_000));
    // The CA itself is backdated by one minute only, so two minutes early nothing is valid yet.
    expect(() => verifyTlsCert(cert, { trustedCaCerts, clock: earlier })).toThrow(expect.objectContaining({ kind: 'access-denied' }));
    const slightlyEarly = newFakeClock(new Date(T0.getTime() - 30_000));
    expect(verifyTlsCert(cert, { trustedCaCerts, clock: slightlyEarly }).identity.username).toBe('a');
  });

  it('refuses a certificate used for the wrong purpose', async () => {
    const user = await issue({ username: 'a', roles: [], logins: [], traits: {}, expires: new Date(T0.getTime() + HOUR) });
    expect(() => verifyTlsCert(user, { trustedCaCerts: [tlsSigningKeyPair(userCa).cert], clock, usage: 'serverAuth' })).toThrow(
      expect.objectContaining({ code: 'ERR_TP_TLS_CERT_USAGE' }),
    );
  });

  it('parses a host identity: <uuid>.<cluster>, system role, issuing cluster', async () => {
    const cert = await issueHostCert({
      ca: tlsSigningKeyPair(hostCa),
      publicKey: keys.publicKeyPem,
      hostId: 'b1e0c7a4-1111-4222-8333-444455556666',
      clusterName: 'example.com',
      systemRole: 'Db',
      dnsNames: ['localhost'],
      expires: new Date(T0.getTime() + HOUR),
      clock,
    });
    const { identity } = verifyTlsCert(cert, { trustedCaCerts: [tlsSigningKeyPair(hostCa).cert], clock, usage: 'serverAuth' });
    expect(identity).toMatchObject({
      username: 'b1e0c7a4-1111-4222-8333-444455556666.example.com',
      roles: ['Db'],
      teleportCluster: 'example.com',
    });
  });

  it('refuses a signing key pair whose key does not belong to the certificate', async () => {
    const mixed = { cert: tlsSigningKeyPair(userCa).cert, key: tlsSigningKeyPair(otherCa).key };
    await expect(
      issueDatabaseClientCert({ ca: mixed, publicKey: keys.publicKeyPem, dbUser: 'x', expires: new Date(T0.getTime() + HOUR), clock }),
    ).rejects.toMatchObject({ kind: 'bad-parameter', message: expect.stringMatching(/does not match/) });
  });

  it('rejects garbage as a malformed certificate', () => {
    expect(() => verifyTlsCert('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', { trustedCaCerts: [], clock })).toThrow(
      expect.objectContaining({ kind: 'bad-parameter' }),
    );
  });
});
