/**
 * What a new database session costs the proxy and the agent, kept from costing more than once: the verified user
 * certificate remembered across CA refetches (and still refused once expired or once its CA is gone), and the
 * agent's TLS handshake with the database in one round trip once it knows the server's key-exchange group.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as connectTls } from 'node:tls';
import path from 'node:path';
import { parseLock, parseRole } from '@teleport-ts/core/types';
import { requirePostgres, type PostgresServer } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCertAuthorityCache } from '../src/roles/db/cas.js';
import { loadDatabaseSpecs } from '../src/roles/db/config.js';
import { connectToDatabase, newClientCertCache } from '../src/roles/db/upstream.js';
import type { DatabaseService } from '../src/roles/db/index.js';
import { startTestAuth, rejection, type TestAuth } from './auth-helpers.js';
import { databaseUserCert, startClusterPostgres, startDbTestCluster, waitFor, type DbTestCluster } from './db-helpers.js';
import { PgClient } from './pg-client.js';

const postgres = requirePostgres();

describe('the certificate authority cache of the proxy and the db agent', () => {
  let t: TestAuth;
  let cert: string;

  beforeAll(async () => {
    t = await startTestAuth({ authentication: { second_factor: 'off' } });
    await t.admin.createUser({ name: 'alice', roles: ['access'], dbUsers: ['alice'], invite: false });
    cert = (await databaseUserCert(t, 'alice', { serviceName: 'pg', protocol: 'postgres', username: 'alice' })).cert;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('verifies a certificate once while the CAs it read again are unchanged, and refuses it once it expired', async () => {
    // maxAgeMs 0: every verification reads the CAs again, as an agent with a cache does every 250 ms.
    const cas = newCertAuthorityCache({ auth: t.admin, clusterName: 'test.example.com', clock: t.clock, maxAgeMs: 0 });
    const first = await cas.verify('user', cert, 'clientAuth');
    expect(first.identity.username).toBe('alice');
    expect(await cas.verify('user', cert, 'clientAuth')).toBe(first);
    t.clock.advance(2 * 3_600_000);
    expect(await rejection(cas.verify('user', cert, 'clientAuth'))).toMatchObject({ code: 'ERR_TP_TLS_CERT_EXPIRED' });
    t.clock.advance(-2 * 3_600_000);
  });

  it('verifies again when the trusted CAs change, and refuses a certificate whose CA is no longer trusted', async () => {
    let cas = (await t.admin.getCertAuthorities('user')).map((ca) => ca);
    const auth = { getCertAuthorities: async () => cas };
    const cache = newCertAuthorityCache({ auth, clusterName: 'test.example.com', clock: t.clock, maxAgeMs: 0 });
    const first = await cache.verify('user', cert, 'clientAuth');
    // The same CA in a new list (a refetch): still the remembered verification.
    cas = [...cas];
    expect(await cache.verify('user', cert, 'clientAuth')).toBe(first);
    // Another cluster's CA only (the user CA rotated away): refused, not served from memory.
    cas = (await t.admin.getCertAuthorities('host')).map((ca) => ca);
    expect(await rejection(cache.verify('user', cert, 'clientAuth'))).toMatchObject({ code: 'ERR_TP_TLS_UNTRUSTED_CA' });
  });
});

/**
 * A TCP relay in front of PostgreSQL that counts the ClientHellos the agent sends: after the 8-byte SSLRequest, the
 * plaintext TLS records until the first encrypted one (a HelloRetryRequest makes the client send a second hello).
 */
async function helloCountingRelay(target: number): Promise<{ port: number; hellos: number[]; close(): Promise<void> }> {
  const hellos: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const index = hellos.push(0) - 1;
    const upstream = connectTcp({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    let seen = Buffer.alloc(0);
    let plaintext = true;
    client.on('data', (chunk: Buffer) => {
      if (!plaintext) return;
      seen = Buffer.concat([seen, chunk]);
      let at = 8;
      hellos[index] = 0;
      while (seen.length >= at + 6) {
        const type = seen[at]!;
        if (type === 0x17) {
          plaintext = false;
          break;
        }
        if (type === 0x16 && seen[at + 5] === 0x01) hellos[index]! += 1;
        at += 5 + seen.readUInt16BE(at + 3);
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    hellos,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(!postgres)('the db agent’s TLS connection to PostgreSQL', () => {
  let t: TestAuth;
  let dir: string;
  let pg: PostgresServer;
  let relay: Awaited<ReturnType<typeof helloCountingRelay>>;

  beforeAll(async () => {
    t = await startTestAuth();
    dir = await mkdtemp(path.join(tmpdir(), 'tp-db-upstream-'));
    pg = (await startClusterPostgres(t, path.join(dir, 'pg'))).server;
    relay = await helloCountingRelay(pg.port);
  });

  afterAll(async () => {
    await relay?.close();
    await pg?.destroy();
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const connectAs = async (uri: string, tls: { server_name?: string; mode?: 'verify-full' | 'verify-ca' } = {}) => {
    const [database] = await loadDatabaseSpecs([{ name: 'pg', protocol: 'postgres', uri, tls }]);
    const cas = newCertAuthorityCache({ auth: t.admin, clusterName: 'test.example.com', clock: t.clock });
    const credentials = await newClientCertCache({ auth: t.admin, clock: t.clock }).get('pg', 'alice');
    return connectToDatabase({ database: database!, credentials, cas });
  };

  it('sends one ClientHello per session once it knows the group PostgreSQL takes (no HelloRetryRequest)', async () => {
    for (let i = 0; i < 3; i++) {
      const socket = await connectAs(`localhost:${relay.port}`);
      expect((socket.getEphemeralKeyInfo() as { name?: string }).name).toBe('prime256v1');
      // What Node's own check used is back once the handshake is done.
      expect(socket.getPeerCertificate(true).issuerCertificate).toBeDefined();
      socket.destroy();
    }
    expect(relay.hellos.length).toBe(3);
    expect(relay.hellos.slice(1)).toEqual([1, 1]);
  });

  it('verify-full still checks the server name (DNS and IP), and verify-ca does not', async () => {
    (await connectAs(`localhost:${relay.port}`)).destroy();
    (await connectAs(`127.0.0.1:${relay.port}`)).destroy();
    const wrongName = await rejection(connectAs(`localhost:${relay.port}`, { server_name: 'db.example.com' }));
    expect(wrongName).toMatchObject({ kind: 'connection-problem' });
    expect(wrongName.message).toContain('it is not valid for db.example.com');
    expect(await rejection(connectAs(`127.0.0.2:${pg.port}`))).toMatchObject({ kind: 'connection-problem' });
    (await connectAs(`localhost:${relay.port}`, { server_name: 'db.example.com', mode: 'verify-ca' })).destroy();
  });
});

/**
 * `tsh proxy db`'s way to the proxy, reduced: each local connection is a TLS connection to the proxy with the
 * database certificate, resuming the TLS session of an earlier one. Records whether each one resumed.
 */
async function resumingForward(proxyPort: number, creds: { cert: string; key: string }): Promise<{ port: number; resumed: boolean[]; close(): Promise<void> }> {
  const resumed: boolean[] = [];
  const sockets = new Set<Socket>();
  let session: Buffer | undefined;
  const server = createServer((local) => {
    const remote = connectTls({ host: '127.0.0.1', port: proxyPort, ALPNProtocols: ['teleport-postgres'], cert: creds.cert, key: creds.key, rejectUnauthorized: false, ...(session ? { session } : {}) });
    remote.on('session', (s: Buffer) => {
      session = s;
    });
    remote.once('secureConnect', () => resumed.push(remote.isSessionReused()));
    for (const s of [local, remote]) {
      sockets.add(s);
      s.on('error', () => {
        local.destroy();
        remote.destroy();
      });
      s.once('close', () => {
        sockets.delete(s);
        local.destroy();
        remote.destroy();
      });
    }
    local.pipe(remote);
    remote.pipe(local);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    resumed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.skipIf(!postgres)('resumed TLS sessions at the proxy (what tsh proxy db does for every connection after the first)', () => {
  let c: DbTestCluster;
  let pg: PostgresServer;
  let agent: DatabaseService;

  beforeAll(async () => {
    c = await startDbTestCluster();
    pg = (await startClusterPostgres(c.t, path.join(c.dataDir, 'pg'))).server;
    await pg.query('CREATE ROLE alice LOGIN');
    await c.t.admin.createRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'db-all' }, spec: { allow: { db_labels: { '*': '*' }, db_users: ['*'], db_names: ['*'] } } }));
    await c.t.admin.createUser({ name: 'alice', roles: ['db-all'], invite: false });
    agent = await c.startAgent('agent-r', [{ name: 'pg', protocol: 'postgres', uri: `localhost:${pg.port}`, static_labels: { env: 'dev' } }], { lockRefreshMs: 100 });
  });

  afterAll(async () => {
    await c?.close();
    await pg?.destroy();
  });

  const sessionError = async (port: number): Promise<string> => {
    const client = new PgClient({ host: '127.0.0.1', port, user: 'alice', database: 'postgres', ssl: false, connectionTimeoutMillis: 15_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('a resumed session is the same user; a lock or the certificate’s expiry still refuses a resumed one', async () => {
    const creds = await databaseUserCert(c.t, 'alice', { serviceName: 'pg', protocol: 'postgres', username: 'alice', database: 'postgres' });
    const forward = await resumingForward(c.proxyPort, creds);
    try {
      for (let i = 0; i < 3; i++) {
        const client = new PgClient({ host: '127.0.0.1', port: forward.port, user: 'alice', database: 'postgres', ssl: false, connectionTimeoutMillis: 15_000 });
        client.on('error', () => undefined);
        await client.connect();
        expect((await client.query<{ u: string }>('select current_user as u')).rows).toEqual([{ u: 'alice' }]);
        await client.end();
      }
      expect(forward.resumed).toEqual([false, true, true]);
      const start = await c.waitForEvent('db.session.start', (e) => e.code === 'TDB00I' && e.user === 'alice');
      expect(start).toMatchObject({ db_user: 'alice', server_id: agent.hostId });

      await c.t.admin.upsertLock(parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'lock-alice' }, spec: { target: { user: 'alice' }, message: 'incident 7' } }));
      try {
        await waitFor(async () => ((await sessionError(forward.port)) === 'lock targeting User:"alice" is in force: incident 7' ? true : undefined), 'the lock to refuse a resumed session');
        expect(forward.resumed.at(-1)).toBe(true);
      } finally {
        await c.t.admin.deleteLock('lock-alice');
      }
      await waitFor(async () => ((await sessionError(forward.port)) === '' ? true : undefined), 'alice to be let in again');

      c.proxyClock.advance(2 * 3_600_000);
      try {
        expect(await sessionError(forward.port)).toBe('access to db denied: certificate has expired');
        expect(forward.resumed.at(-1)).toBe(true);
      } finally {
        c.proxyClock.advance(-2 * 3_600_000);
      }
    } finally {
      await forward.close();
    }
  });
});
