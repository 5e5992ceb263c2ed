import { describe, expect, it } from 'vitest';
import { generateKeyPair, issueUserCert, newCertAuthority, tlsSigningKeyPair } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { parseRole, type Role } from '@teleport-ts/core/types';
import { allowedDatabaseNames, allowedDatabaseUsers, readDatabaseCertificate, type DatabaseInfo, type UserAccess } from './databases.js';

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

const role = (name: string, allow: Record<string, unknown>): Role => parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec: { allow } });

const db = (name: string, labels: Record<string, string>): DatabaseInfo => ({ name, description: '', protocol: 'postgres', uri: 'localhost:5432', labels });

describe('allowedDatabaseUsers and allowedDatabaseNames', () => {
  const roles = [
    role('dev', { db_labels: { env: 'dev' }, db_users: ['alice', 'reader'], db_names: ['app'] }),
    role('prod', { db_labels: { env: 'prod' }, db_users: ['bob', '*'], db_names: ['orders', 'billing'] }),
  ];
  const dev = db('dev-pg', { env: 'dev' });
  const prod = db('prod-pg', { env: 'prod' });

  it('answers each database from the roles whose db_labels match it, asked A, B, then A again', () => {
    const access: UserAccess = { roles, traits: {} };
    expect(allowedDatabaseUsers(access, dev)).toEqual({ allowed: ['alice', 'reader'], wildcard: false });
    expect(allowedDatabaseUsers(access, prod)).toEqual({ allowed: ['bob'], wildcard: true });
    expect(allowedDatabaseUsers(access, dev)).toEqual({ allowed: ['alice', 'reader'], wildcard: false });
    expect(allowedDatabaseNames(access, dev)).toEqual({ allowed: ['app'], wildcard: false });
    expect(allowedDatabaseNames(access, prod)).toEqual({ allowed: ['billing', 'orders'], wildcard: false });
    expect(allowedDatabaseNames(access, dev)).toEqual({ allowed: ['app'], wildcard: false });
  });

  it('keeps users and names apart for the same labels', () => {
    const access: UserAccess = { roles, traits: {} };
    expect(allowedDatabaseNames(access, dev)).toEqual({ allowed: ['app'], wildcard: false });
    expect(allowedDatabaseUsers(access, dev)).toEqual({ allowed: ['alice', 'reader'], wildcard: false });
  });

  it('gives the same answer for the same labels in another order, and another for more labels', () => {
    const access: UserAccess = { roles: [role('team', { db_labels: { env: 'dev', team: 'web' }, db_users: ['carol'] })], traits: {} };
    expect(allowedDatabaseUsers(access, db('a', { env: 'dev' }))).toEqual({ allowed: [], wildcard: false });
    expect(allowedDatabaseUsers(access, db('b', { env: 'dev', team: 'web' }))).toEqual({ allowed: ['carol'], wildcard: false });
    expect(allowedDatabaseUsers(access, db('c', { team: 'web', env: 'dev' }))).toEqual({ allowed: ['carol'], wildcard: false });
    expect(allowedDatabaseUsers(access, db('a', { env: 'dev' }))).toEqual({ allowed: [], wildcard: false });
  });

  it('answers each user from their own roles', () => {
    const devOnly: UserAccess = { roles: [roles[0]!], traits: {} };
    const prodOnly: UserAccess = { roles: [roles[1]!], traits: {} };
    expect(allowedDatabaseUsers(devOnly, dev)).toEqual({ allowed: ['alice', 'reader'], wildcard: false });
    expect(allowedDatabaseUsers(prodOnly, dev)).toEqual({ allowed: [], wildcard: false });
    expect(allowedDatabaseUsers(devOnly, prod)).toEqual({ allowed: [], wildcard: false });
    expect(allowedDatabaseUsers(prodOnly, prod)).toEqual({ allowed: ['bob'], wildcard: true });
  });

  it('is not changed by a caller that mutates the returned answer', () => {
    const access: UserAccess = { roles, traits: {} };
    const first = allowedDatabaseUsers(access, dev);
    first.allowed.push('mallory');
    first.allowed.sort().reverse();
    first.wildcard = true;
    expect(allowedDatabaseUsers(access, dev)).toEqual({ allowed: ['alice', 'reader'], wildcard: false });
    const names = allowedDatabaseNames(access, prod);
    names.allowed.length = 0;
    expect(allowedDatabaseNames(access, prod)).toEqual({ allowed: ['billing', 'orders'], wildcard: false });
  });
});
