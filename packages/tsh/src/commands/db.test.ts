import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '@teleport-ts/core/api';
import { generateKeyPair, issueUserCert, newCertAuthority, tlsSigningKeyPair } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { parseRole, type Role } from '@teleport-ts/core/types';
import type { DatabaseRoute } from '../db/databases.js';
import type { DatabaseCluster } from '../db/cluster.js';
import { asciiTable } from '@teleport-ts/core/cli';
import { generateLoginKeys } from '../keys.js';
import { saveLogin } from '@teleport-ts/core/profile';
import { dbListTable, renderDbLogin, renderDbLogout } from '../render/db.js';
import { dbList, dbLogin, dbLogout, dbNativeClientInfo, openDbSession, resolveRoute, type DbSession } from './db.js';

const role = (name: string, allow: Record<string, unknown>): Role => parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec: { allow } });

const database = (name: string, protocol: 'postgres' | 'cockroachdb', labels: Record<string, string>, description = ''): Database => ({
  kind: 'db',
  version: 'v3',
  metadata: { name, description, labels },
  spec: { protocol, uri: 'localhost:5432' },
});

/** An SSH certificate line is what tsh reads roles and traits from; a tiny fake of one is enough for status. */
async function loginAs(home: string, user: string, roles: string[], traits: Record<string, string[]>): Promise<void> {
  const keys = await generateLoginKeys(user);
  const { issueSshUserCertForTest } = await sshCertHelper();
  await saveLogin(
    home,
    { web_proxy_addr: 'proxy.example.com:3080', ssh_proxy_addr: 'proxy.example.com:3080', user, site_name: 'example.com', tls_routing_enabled: true },
    {
      sshPrivateKey: keys.sshPrivateKey,
      sshPublicKey: keys.sshPublicKey,
      tlsPrivateKey: keys.tlsPrivateKey,
      tlsCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      sshCert: await issueSshUserCertForTest(keys.sshPublicKey, user, roles, traits),
      tlsCaCerts: [],
    },
  );
}

async function sshCertHelper() {
  const ca = await import('@teleport-ts/core/ca');
  return {
    async issueSshUserCertForTest(publicKey: string, user: string, roles: string[], traits: Record<string, string[]>): Promise<string> {
      const caKeys = await ca.generateKeyPair('ed25519');
      const cert = await ca.issueSshUserCert({
        ca: caKeys.privateKeyPem,
        publicKey,
        username: user,
        logins: [user],
        roles,
        traits,
        expires: new Date(Date.now() + 3_600_000),
        clock: systemClock,
      });
      return ca.formatSshCertificate(cert);
    },
  };
}

describe('tsh db commands against a fake cluster', () => {
  let home: string;
  let issued: DatabaseRoute[];
  let rolesReadable: boolean;
  const roles = [
    role('access', { db_labels: { '*': '*' }, db_users: ['{{internal.db_users}}'], db_names: ['{{internal.db_names}}'] }),
    role('dev-app', { db_labels: { env: 'dev' }, db_users: ['bob'], db_names: ['app'] }),
  ];
  const dbs = [database('roach', 'cockroachdb', { env: 'dev' }), database('pg', 'postgres', { env: 'prod' }, 'Orders')];

  const fakeCluster = (): DatabaseCluster => ({
    listDatabases: async () =>
      dbs.map((resource) => ({
        resource,
        info: { name: resource.metadata.name, description: resource.metadata.description ?? '', protocol: resource.spec.protocol, uri: resource.spec.uri, labels: resource.metadata.labels },
      })),
    listNodes: async () => [],
    userRoles: async (names) => (rolesReadable ? roles.filter((r) => names.includes(r.metadata.name)) : undefined),
    issueDatabaseCert: async (route) => {
      issued.push(route);
      const [ca, keys] = await Promise.all([newCertAuthority({ clusterName: 'example.com', type: 'user', clock: systemClock }), generateKeyPair('ecdsa-p256')]);
      return issueUserCert({
        ca: tlsSigningKeyPair(ca),
        publicKey: keys.publicKeyPem,
        clock: systemClock,
        identity: {
          username: 'alice',
          roles: ['access'],
          logins: [],
          traits: {},
          expires: new Date(Date.now() + 3_600_000),
          routeToDatabase: { serviceName: route.serviceName, protocol: route.protocol, username: route.username, database: route.database },
        },
      });
    },
    close: async () => {},
  });

  const session = (): Promise<DbSession> => openDbSession({}, { env: { TELEPORT_HOME: home }, openCluster: fakeCluster });

  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'tsh-db-'));
    issued = [];
    rolesReadable = true;
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('says Not logged in. without a profile', async () => {
    await expect(session()).rejects.toThrow('Not logged in.');
  });

  it('lists databases in Teleport\'s table, marking the active login', async () => {
    await loginAs(home, 'alice', ['access'], { db_users: ['*', 'alice'], db_names: ['*'] });
    const s = await session();
    let table = dbListTable(await dbList(s, { verbose: false }), false);
    expect(asciiTable(table.headers, table.cells)).toBe(
      [
        'Name  Description Allowed Users Labels   Connect ',
        '----- ----------- ------------- -------- ------- ',
        'pg    Orders      [* alice]     env=prod         ',
        'roach             [* alice]     env=dev          ',
        '',
      ].join('\n'),
    );
    await dbLogin(s, { db: 'roach', dbUser: 'alice' });
    table = dbListTable(await dbList(s, { verbose: false, labels: 'env=dev' }), false);
    expect(table.cells).toEqual([['> roach (user: alice)', '', '[* alice]', 'env=dev', 'tsh db connect roach']]);
    rolesReadable = false;
    expect(dbListTable(await dbList(s, { verbose: false }), false).cells[0]![2]).toBe('(unknown)');
  });

  it('picks the only allowed user and name, and asks for the flags otherwise, in Teleport\'s words', async () => {
    await loginAs(home, 'bob', ['dev-app'], {});
    dbs.push(database('dev-pg', 'postgres', { env: 'dev' }));
    try {
      const s = await session();
      expect((await resolveRoute(s, { db: 'dev-pg' })).route).toEqual({ serviceName: 'dev-pg', protocol: 'postgres', username: 'bob', database: 'app' });
      // cockroachdb does not enforce db_names: no name needed.
      expect((await resolveRoute(s, { db: 'roach' })).route).toEqual({ serviceName: 'roach', protocol: 'cockroachdb', username: 'bob', database: '' });
      await expect(resolveRoute(s, { db: 'pg' })).rejects.toThrow(
        'you are not allowed access to any database user for pg, ask a cluster administrator to ensure your Teleport user has appropriate db_users set',
      );
      await expect(resolveRoute(s, { db: 'nope' })).rejects.toThrow(`database "nope" not found, use 'tsh db ls' to see registered databases`);
    } finally {
      dbs.pop();
    }
    await loginAs(home, 'alice', ['access'], { db_users: ['*'], db_names: ['*'] });
    const s = await session();
    await expect(resolveRoute(s, { db: 'pg' })).rejects.toThrow('please provide the database user using the --db-user flag, allowed database users for pg: [*]');
    await expect(resolveRoute(s, { db: 'pg', dbUser: 'alice' })).rejects.toThrow('please provide the database name using the --db-name flag, allowed database names for pg: [*]');
  });

  it('logs in (certificate in the profile, Teleport\'s hint), logs out, and explains env/config', async () => {
    await loginAs(home, 'alice', ['access'], { db_users: ['*'], db_names: ['*'] });
    const s = await session();
    await expect(dbNativeClientInfo(s, 'tsh db env', undefined)).rejects.toThrow("please login using 'tsh db login' first (use 'tsh db ls' to see registered databases)");
    const text = renderDbLogin(await dbLogin(s, { db: 'pg', dbUser: 'alice', dbName: 'app' }));
    expect(text).toBe(
      'Connection information for database "pg" has been saved.\n\nYou can now connect to it using the following command:\n\n  tsh db connect pg\n\n' +
        'You can start a local proxy for database GUI clients:\n\n  tsh proxy db --tunnel pg\n\n',
    );
    expect(issued).toEqual([{ serviceName: 'pg', protocol: 'postgres', username: 'alice', database: 'app' }]);
    const file = path.join(home, 'keys', 'proxy.example.com', 'alice-db', 'example.com', 'pg-x509.pem');
    expect(await readFile(file, 'utf8')).toContain('BEGIN CERTIFICATE');
    await expect(dbNativeClientInfo(s, 'tsh db config', undefined)).rejects.toThrow(
      '"tsh db config" is not supported when:\n  - cluster example.com proxy is using TLS routing.\n\nPlease use one of the following commands to connect to the database:\n    tsh db connect pg\n    tsh proxy db --tunnel pg',
    );
    await dbLogin(s, { db: 'roach', dbUser: 'alice' });
    await expect(dbNativeClientInfo(s, 'tsh db env', undefined)).rejects.toThrow('multiple databases are available (pg, roach), please specify one by name, --labels, or --query');
    expect(renderDbLogout(await dbLogout(s, 'pg'))).toBe('Logged out of database pg\n');
    await expect(dbLogout(s, 'pg')).rejects.toThrow('Not logged into database "pg"');
    await dbLogin(s, { db: 'pg', dbUser: 'alice', dbName: 'app' });
    expect(renderDbLogout(await dbLogout(s, undefined))).toBe('Logged out of all databases\n');
    await expect(dbLogout(s, undefined)).rejects.toThrow('Not logged into any databases');
  });
});
