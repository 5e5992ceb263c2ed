import { describe, expect, it } from 'vitest';
import { generateKeyPair, issueUserCert, newCertAuthority, tlsSigningKeyPair } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { readDatabaseCertificate } from './databases.js';

describe('readDatabaseCertificate', () => {
  it('reads the route and expiry core wrote into the subject', async () => {
    const [ca, keys] = await Promise.all([newCertAuthority({ clusterName: 'example.com', type: 'user', clock: systemClock }), generateKeyPair('ecdsa-p256')]);
    const expires = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
    const identity = {
      username: 'alice',
      roles: ['access'],
      logins: ['alice'],
      traits: { db_users: ['*'] },
      teleportCluster: 'example.com',
      expires,
    };
    const routed = await issueUserCert({
      ca: tlsSigningKeyPair(ca),
      publicKey: keys.publicKeyPem,
      clock: systemClock,
      identity: { ...identity, routeToDatabase: { serviceName: 'roach', protocol: 'cockroachdb', username: 'alice' } },
    });
    expect(readDatabaseCertificate(routed)).toEqual({
      route: { serviceName: 'roach', protocol: 'cockroachdb', username: 'alice', database: '' },
      user: 'alice',
      expires,
    });
    const withName = await issueUserCert({
      ca: tlsSigningKeyPair(ca),
      publicKey: keys.publicKeyPem,
      clock: systemClock,
      identity: { ...identity, routeToDatabase: { serviceName: 'pg', protocol: 'postgres', username: 'bob', database: 'app' } },
    });
    expect(readDatabaseCertificate(withName).route).toEqual({ serviceName: 'pg', protocol: 'postgres', username: 'bob', database: 'app' });

    const plain = await issueUserCert({ ca: tlsSigningKeyPair(ca), publicKey: keys.publicKeyPem, clock: systemClock, identity });
    expect(() => readDatabaseCertificate(plain)).toThrow('the certificate is not a database certificate');
    expect(() => readDatabaseCertificate('not a certificate')).toThrow('malformed database certificate');
  });
});
