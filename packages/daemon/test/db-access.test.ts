/**
 * Database access end to end, in process: auth + proxy + a db agent that joined through the proxy with a token and
 * a CA pin and dials a reverse tunnel to it, in front of a real PostgreSQL that accepts only TLS client
 * certificates from the cluster's db_client CA. Clients connect the way tsh's local proxy does (TLS with ALPN
 * `teleport-postgres` and a user certificate with a database route), with node-postgres and psql.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuthClient, type AuthClient } from '@teleport-ts/core/api';
import type { AuditEvent } from '@teleport-ts/core/audit';
import type { RouteToDatabase } from '@teleport-ts/core/ca';
import type { DatabaseFileConfig } from '@teleport-ts/core/config';
import { sendCancelRequest, SQLSTATE, type BackendKey } from '@teleport-ts/core/protocol/postgres';
import { parseLock, parseRole } from '@teleport-ts/core/types';
import { makeTestPki, requirePostgres, requireTool, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { loadIdentity } from '@teleport-ts/core/api';
import { runTool } from '../../core/src/ca/testing/run.js';
import type { DatabaseService } from '../src/roles/db/index.js';
import { newServiceAuditEmitter } from '../src/roles/db/audit.js';
import { databaseUserCert, startClusterPostgres, startDbTestCluster, startLocalForward, waitFor, type DbTestCluster, type LocalForward } from './db-helpers.js';
import { rejection } from './auth-helpers.js';
import { PgClient } from './pg-client.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const openssl = requireTool('openssl', 'openssl');

/** node-postgres keeps the BackendKeyData it received on the client. */
function clientKey(client: PgClient): BackendKey {
  const { processID, secretKey } = client;
  const secret = Buffer.alloc(4);
  secret.writeInt32BE(secretKey);
  return { processId: processID, secretKey: secret };
}

describe.skipIf(!postgres || !openssl.available)('database access through the proxy and a db agent', () => {
  let c: DbTestCluster;
  let pgServer: PostgresServer;
  let rogue: PostgresServer;
  let agent: DatabaseService;
  const forwards: LocalForward[] = [];
  const clients: PgClient[] = [];
  let databases: DatabaseFileConfig[];

  const route = (serviceName: string, username: string, database?: string, protocol = 'postgres'): RouteToDatabase => ({
    serviceName,
    protocol,
    username,
    ...(database !== undefined ? { database } : {}),
  });

  /** A local port that reaches the proxy as `user` with this route. */
  const forwardFor = async (user: string, r: RouteToDatabase, ttlMs?: number): Promise<LocalForward> => {
    const creds = await databaseUserCert(c.t, user, r, ttlMs);
    const forward = await startLocalForward(() => c.proxyPort, creds);
    forwards.push(forward);
    return forward;
  };

  const pgClient = async (forward: LocalForward, user: string, database: string): Promise<PgClient> => {
    const client = new PgClient({ host: '127.0.0.1', port: forward.port, user, database, ssl: false, connectionTimeoutMillis: 15_000 });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };

  /** The error a connection attempt ends with. */
  const connectError = async (forward: LocalForward, user: string, database: string): Promise<{ message: string; code?: string; severity?: string; hint?: string }> => {
    const client = new PgClient({ host: '127.0.0.1', port: forward.port, user, database, ssl: false, connectionTimeoutMillis: 15_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      return err as { message: string; code?: string; severity?: string };
    } finally {
      await client.end().catch(() => undefined);
    }
    throw new Error('expected the connection to be refused');
  };

  const failedStart = (predicate: (e: AuditEvent) => boolean) => c.waitForEvent('db.session.start', (e) => e.code === 'TDB00W' && predicate(e));

  beforeAll(async () => {
    c = await startDbTestCluster();
    const { server } = await startClusterPostgres(c.t, path.join(c.dataDir, 'pg'));
    pgServer = server;
    for (const sql of ['CREATE ROLE alice LOGIN', 'CREATE ROLE bob LOGIN', 'CREATE DATABASE app', 'CREATE DATABASE other']) await pgServer.query(sql);

    // A PostgreSQL whose server certificate comes from a CA the cluster does not know.
    const foreign = await makeTestPki(path.join(c.dataDir, 'rogue-pki'), { clientCommonName: 'alice' });
    rogue = await startPostgres({ tls: { certFile: foreign.serverCert, keyFile: foreign.serverKey }, hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 trust'] });

    await c.t.admin.createRole(
      parseRole({
        kind: 'role',
        version: 'v7',
        metadata: { name: 'db-dev' },
        spec: { allow: { db_labels: { env: 'dev' }, db_users: ['{{internal.db_users}}'], db_names: ['{{internal.db_names}}'] } },
      }),
    );
    await c.t.admin.createRole(
      parseRole({ kind: 'role', version: 'v7', metadata: { name: 'db-prod' }, spec: { allow: { db_labels: { env: 'prod' }, db_users: ['*'], db_names: ['*'] } } }),
    );
    await c.t.admin.createUser({ name: 'alice', roles: ['db-dev'], dbUsers: ['alice'], dbNames: ['app'], invite: false });
    await c.t.admin.createUser({ name: 'carol', roles: ['db-prod'], invite: false });

    const uri = `127.0.0.1:${pgServer.port}`;
    databases = [
      { name: 'pg', description: 'PostgreSQL', protocol: 'postgres', uri, static_labels: { env: 'dev' } },
      { name: 'crdb', description: 'CockroachDB (a PostgreSQL stand-in)', protocol: 'cockroachdb', uri, static_labels: { env: 'dev' } },
      { name: 'rogue', protocol: 'postgres', uri: `127.0.0.1:${rogue.port}`, static_labels: { env: 'dev' } },
    ];
    agent = await c.startAgent('agent-a', databases, { lockRefreshMs: 100 });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((cl) => cl.end()));
    await Promise.allSettled(forwards.map((f) => f.close()));
    await c?.close();
    await pgServer?.destroy();
    await rogue?.destroy();
  });

  it('joins through the proxy and announces each database as a db_server of its host', async () => {
    const servers = await c.t.admin.getDatabaseServers();
    expect(servers.map((s) => s.metadata.name)).toEqual(['crdb', 'pg', 'rogue']);
    const pgEntry = servers.find((s) => s.metadata.name === 'pg')!;
    expect(pgEntry).toMatchObject({
      kind: 'db_server',
      spec: {
        host_id: agent.hostId,
        hostname: 'agent-a',
        database: { metadata: { name: 'pg', description: 'PostgreSQL', labels: { env: 'dev' } }, spec: { protocol: 'postgres', uri: `127.0.0.1:${pgServer.port}` } },
      },
    });
    expect(Date.parse(pgEntry.metadata.expires!)).toBeGreaterThan(c.authClock.now().getTime());
    expect(agent.tunnelState).toBe('connected');
    // The join was audited, the token masked.
    await c.waitForEvent('instance.join', (e) => e['role'] === 'Db' && e['node_name'] === 'agent-a' && e.success === true);
  });

  it('lists databases for users by their roles’ db_labels', async () => {
    const alice = await c.t.userClient('alice', ['db-dev']);
    expect((await alice.getDatabaseServers()).map((s) => s.metadata.name)).toEqual(['crdb', 'pg', 'rogue']);
    const carol = await c.t.userClient('carol', ['db-prod']);
    expect(await carol.getDatabaseServers()).toEqual([]);
  });

  it('connects alice to PostgreSQL as the db user of her certificate, auditing start, queries and end', async () => {
    const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
    const client = await pgClient(forward, 'alice', 'app');
    const { rows } = await client.query<{ user: string; db: string; ssl: boolean }>(
      'select current_user as user, current_database() as db, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl',
    );
    expect(rows).toEqual([{ user: 'alice', db: 'app', ssl: true }]);
    const extended = await client.query<{ n: number }>({ text: 'select $1::int + 1 as n', values: [41] });
    expect(extended.rows).toEqual([{ n: 42 }]);
    await client.end();

    const start = await c.waitForEvent('db.session.start', (e) => e.code === 'TDB00I' && e.user === 'alice' && e['db_service'] === 'pg');
    expect(start).toMatchObject({ success: true, db_user: 'alice', db_name: 'app', db_protocol: 'postgres', cluster_name: 'test.example.com', server_id: agent.hostId });
    const sid = start['sid'];
    await c.waitForEvent('db.session.query', (e) => e['sid'] === sid && String(e['db_query']).startsWith('select current_user'));
    const bound = await c.waitForEvent('db.session.query', (e) => e['sid'] === sid && e['db_query'] === 'select $1::int + 1 as n');
    expect(bound['db_query_parameters']).toEqual(['41']);
    const end = await c.waitForEvent('db.session.end', (e) => e['sid'] === sid);
    expect(end['bytes_from_client']).toBeGreaterThan(0);
    expect(end['bytes_to_client']).toBeGreaterThan(0);
  });

  it.skipIf(!psql.available)('psql runs `select current_user` through the proxy (its SSLRequest answered N by the proxy)', async () => {
    const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
    const result = await runTool('psql', [`host=127.0.0.1 port=${forward.port} user=alice dbname=app sslmode=prefer connect_timeout=10`, '-X', '-A', '-t', '-c', 'select current_user']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('alice');
  });

  it('takes the db user and name from the startup message when the route leaves them empty, and refuses a mismatch', async () => {
    const open = await forwardFor('alice', { serviceName: 'pg', protocol: 'postgres' });
    const client = await pgClient(open, 'alice', 'app');
    expect((await client.query<{ u: string }>('select current_user as u')).rows).toEqual([{ u: 'alice' }]);
    await client.end();

    const pinned = await forwardFor('alice', route('pg', 'alice', 'app'));
    const err = await connectError(pinned, 'bob', 'app');
    expect(err.message).toBe('access to db denied: database user "bob" does not match the certificate\'s "alice"');
    expect(err.severity).toBe('FATAL');
  });

  describe('refusals: a FATAL error the client shows, and a db.session.start failure in the audit log', () => {
    it('a role whose db_labels do not match the database', async () => {
      const forward = await forwardFor('carol', route('pg', 'alice', 'app'));
      const err = await connectError(forward, 'alice', 'app');
      expect(err).toMatchObject({ severity: 'FATAL', code: SQLSTATE.invalidAuthorizationSpecification, message: 'access to db denied: no role grants access to this database' });
      await failedStart((e) => e.user === 'carol' && e.error === 'access to db denied: no role grants access to this database' && e['db_service'] === 'pg');
    });

    it('a db user not in db_users', async () => {
      const forward = await forwardFor('alice', route('pg', 'postgres', 'app'));
      const err = await connectError(forward, 'postgres', 'app');
      expect(err.message).toBe('access to db denied: db user "postgres" is not allowed');
      await failedStart((e) => e.user === 'alice' && e['db_user'] === 'postgres' && e.error === err.message);
    });

    it('an expired database certificate (refused by the proxy)', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'), 60_000);
      c.proxyClock.advance(5 * 60_000);
      let err: { message: string; hint?: string };
      try {
        err = await connectError(forward, 'alice', 'app');
      } finally {
        c.proxyClock.advance(-5 * 60_000);
      }
      expect(err.message).toBe('access to db denied: certificate has expired');
      expect(err.hint).toBe('run `tsh db login` again');
      await failedStart((e) => e.user === 'alice' && e.error === 'access to db denied: certificate has expired' && e['server_id'] === c.t.auth.hostUuid);
    });

    it('a database whose server certificate is not signed by the cluster’s db CA', async () => {
      const forward = await forwardFor('alice', route('rogue', 'alice', 'app'));
      const err = await connectError(forward, 'alice', 'app');
      expect(err.message).toMatch(/^failed to verify the server certificate of database "rogue": /);
      expect(err.hint).toBe('the database must present a certificate from `tctl auth sign --format=db` (or set tls.ca_cert_file)');
      await failedStart((e) => e['db_service'] === 'rogue' && String(e.error).startsWith('failed to verify the server certificate of database "rogue"'));
    });

    it('a certificate without a database route, and a database nobody serves', async () => {
      const plain = await startLocalForward(() => c.proxyPort, await databaseUserCert(c.t, 'alice', undefined));
      forwards.push(plain);
      expect((await connectError(plain, 'alice', 'app')).message).toBe('access to db denied: the certificate is not for a database');
      const none = await startLocalForward(() => c.proxyPort, undefined);
      forwards.push(none);
      expect((await connectError(none, 'alice', 'app')).message).toBe('access to db denied: a client certificate is required');
      const missing = await forwardFor('alice', route('nosuch', 'alice', 'app'));
      const err = await connectError(missing, 'alice', 'app');
      expect(err.message).toBe('database "nosuch" not found');
      await failedStart((e) => e['db_service'] === 'nosuch' && e.error === 'database "nosuch" not found');
    });

    it.skipIf(!psql.available)('psql prints the refusal as a FATAL line with its hint', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'other'));
      const result = await runTool('psql', [`host=127.0.0.1 port=${forward.port} user=alice dbname=other sslmode=disable connect_timeout=10`, '-X', '-c', 'select 1']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('FATAL:  access to db denied: db name "other" is not allowed');
    });
  });

  describe('locks (tctl lock): refuse new sessions, end running ones, refuse certificates', () => {
    const lockOf = (name: string, target: Record<string, string>, extra: Record<string, unknown> = {}) =>
      parseLock({ kind: 'lock', version: 'v2', metadata: { name }, spec: { target, message: 'incident 42', ...extra } });
    /** Alice's next session once the agent lets her in (locks are refreshed, not pushed). */
    const aliceOnceAllowed = (forward: LocalForward, what: string): Promise<PgClient> =>
      waitFor(async () => {
        try {
          return await pgClient(forward, 'alice', 'app');
        } catch {
          return undefined;
        }
      }, what);
    /** Waits until Alice's new sessions are refused with `message`. */
    const aliceRefusedWith = (forward: LocalForward, message: string): Promise<true> =>
      waitFor(async () => ((await connectError(forward, 'alice', 'app').catch(() => ({ message: '' }))).message === message ? true : undefined), message);

    it('a lock on the user refuses her new sessions with Teleport\'s message and audits it; removing it lets her in again', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
      const running = await pgClient(forward, 'alice', 'app');
      const aliceApi = await c.t.userClient('alice', ['db-dev']);
      const created = await c.t.admin.upsertLock(lockOf('lock-alice', { user: 'alice' }));
      expect(created.spec).toMatchObject({ target: { user: 'alice' }, message: 'incident 42', created_by: expect.any(String) });
      expect(created.spec.created_at).toBeDefined();
      await c.waitForEvent('lock.created', (e) => e['name'] === 'lock-alice');
      try {
        // The running session ends within the agent's lock refresh (100 ms here, 2 s by default).
        const ended = await waitFor(async () => {
          try {
            await running.query('select 1');
            return undefined;
          } catch (err) {
            return err as Error;
          }
        }, 'the running session to end');
        expect(ended.message).toMatch(/terminated|closed|connection error/i);

        const err = await connectError(forward, 'alice', 'app');
        expect(err).toMatchObject({ severity: 'FATAL', code: SQLSTATE.invalidAuthorizationSpecification, message: 'lock targeting User:"alice" is in force: incident 42' });
        await failedStart((e) => e.user === 'alice' && e.error === 'lock targeting User:"alice" is in force: incident 42');
        // No new certificates for her either (tsh login, tsh db login).
        expect(await rejection(databaseUserCert(c.t, 'alice', route('pg', 'alice', 'app')))).toMatchObject({ kind: 'access-denied', message: 'lock targeting User:"alice" is in force: incident 42' });
        // Her API requests are refused too (the auth server's lock view is at most 1 s old).
        const apiRefusal = await waitFor(() => aliceApi.getDatabaseServers().then(() => undefined, (err: { message: string; kind?: string }) => err), 'her API request to be refused');
        expect(apiRefusal).toMatchObject({ kind: 'access-denied', message: 'lock targeting User:"alice" is in force: incident 42' });
        // Another user is not affected.
        const other = await forwardFor('carol', route('pg', 'alice', 'app'));
        expect((await connectError(other, 'alice', 'app')).message).toBe('access to db denied: no role grants access to this database');
      } finally {
        await c.t.admin.deleteLock('lock-alice');
      }
      await c.waitForEvent('lock.deleted', (e) => e['name'] === 'lock-alice');
      const again = await aliceOnceAllowed(forward, 'alice to connect after the lock is removed');
      expect((await again.query<{ u: string }>('select current_user as u')).rows).toEqual([{ u: 'alice' }]);
      await again.end();
    });

    it('locks by role and by the agent\'s server id; a lock stops at its expiry; the API refuses an empty target or a past expiry', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
      await c.t.admin.upsertLock(lockOf('lock-role', { role: 'db-dev' }));
      try {
        await aliceRefusedWith(forward, 'lock targeting Role:"db-dev" is in force: incident 42');
      } finally {
        await c.t.admin.deleteLock('lock-role');
      }
      await c.t.admin.upsertLock(lockOf('lock-agent', { server_id: agent.hostId }, { expires: new Date(Date.now() + 3_000).toISOString() }));
      await aliceRefusedWith(forward, `lock targeting ServerID:"${agent.hostId}" is in force: incident 42`);
      // The agent itself is shut out of the auth API while the lock holds (no heartbeats, no certificates).
      const agentApi = newAuthClient({ addr: c.t.auth.dialAddr, identity: await loadIdentity(path.join(c.dataDir, 'agent-a', 'db')) });
      try {
        const refused = await waitFor(() => agentApi.getLocks().then(() => undefined, (err: { message: string; kind?: string }) => err), 'the agent to be refused');
        expect(refused).toMatchObject({ kind: 'access-denied', message: `lock targeting ServerID:"${agent.hostId}" is in force: incident 42` });
      } finally {
        await agentApi.close();
      }
      // Past its expiry the lock is not in force any more (and the backend drops it).
      const back = await aliceOnceAllowed(forward, 'the agent lock to expire');
      await back.end();

      expect(() => parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'x' }, spec: { target: {} } })).toThrow(/must name at least one of user, role, login, server_id/);
      expect(await rejection(c.t.admin.upsertLock(lockOf('lock-past', { user: 'alice' }, { expires: '2001-01-01T00:00:00Z' })))).toMatchObject({ kind: 'bad-parameter' });
      expect((await c.t.admin.getLocks()).map((l) => l.metadata.name)).not.toContain('lock-past');
    });
  });

  it('audits long statements without stalling the audit log: too large for one request together, or one too large alone', async () => {
    const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
    const client = await pgClient(forward, 'alice', 'app');
    // 40 statements of ~30 KB arrive within one batching window: ~1.2 MB of events, over the auth server's 1 MiB
    // request limit if sent as one batch.
    const filler = 'x'.repeat(30_000);
    for (let i = 0; i < 40; i++) await client.query(`select '${filler}' is not null as big${i}`);
    // One statement whose JSON alone is over the auth server's 64 KiB per event (quotes double in JSON, and 50
    // bind parameters of 1 KB each).
    const quotes = '"'.repeat(31_000);
    await client.query({ text: `select length($1) as n, '${quotes}' as q ${Array.from({ length: 49 }, (_, i) => `, $${i + 2}::text as p${i}`).join(' ')}`, values: Array.from({ length: 50 }, () => 'y'.repeat(1_000)) });
    await client.query("select 'after the big ones' as marker");
    await client.end();
    const marker = await c.waitForEvent('db.session.query', (e) => e['db_query'] === "select 'after the big ones' as marker");
    const sid = marker['sid'];
    const big = await c.waitForEvent('db.session.query', (e) => e['sid'] === sid && String(e['db_query']).startsWith('select \'xxx') && String(e['db_query']).endsWith('as big39'));
    expect(big['db_query_truncated']).toBeUndefined();
    const huge = await c.waitForEvent('db.session.query', (e) => e['sid'] === sid && String(e['db_query']).startsWith('select length($1)'));
    expect(huge['db_query_truncated']).toBe(true);
    expect(JSON.stringify(huge).length).toBeLessThanOrEqual(64 * 1024);
  });

  it.skipIf(!psql.available)('a statement of 16 MiB or more ends the session with a FATAL naming the limit, logged and on the session end event', async () => {
    const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
    const file = path.join(c.dataDir, 'huge.sql');
    await writeFile(file, `select '${'x'.repeat(16 * 1024 * 1024)}' is not null as huge;\n`);
    const result = await runTool('psql', [`host=127.0.0.1 port=${forward.port} user=alice dbname=app sslmode=disable connect_timeout=10`, '-X', '-A', '-t', '-c', "select 'before huge'", '-f', file]);
    expect(result.stdout.trim()).toBe('before huge');
    expect(result.stderr).toMatch(/FATAL: {2}PostgreSQL message 'Q' of 167772\d\d bytes is over the limit of 16777216 bytes/);
    const before = await c.waitForEvent('db.session.query', (e) => e['db_query'] === "select 'before huge'");
    const end = await c.waitForEvent('db.session.end', (e) => e['sid'] === before['sid']);
    expect(String(end['error'])).toMatch(/^PostgreSQL message 'Q' of \d+ bytes is over the limit of 16777216 bytes$/);
  });

  it('a startup length over the limit on the direct teleport-postgres route gets a FATAL naming the limit, not a bare EOF', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: c.proxyPort, ALPNProtocols: ['teleport-postgres'], rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    const header = Buffer.alloc(8);
    header.writeInt32BE(0x7fff_ffff, 0);
    header.writeInt32BE(3 << 16, 4);
    socket.write(header);
    const chunks: Buffer[] = [];
    socket.on('data', (b: Buffer) => chunks.push(b));
    await once(socket, 'close');
    const reply = Buffer.concat(chunks);
    expect(reply.subarray(0, 1).toString()).toBe('E');
    expect(reply.toString('latin1')).toContain('SFATAL');
    expect(reply.toString('latin1')).toContain(`C${SQLSTATE.protocolViolation}`);
    expect(reply.toString('latin1')).toContain('MPostgreSQL startup message of 2147483647 bytes is over the limit of 1048576 bytes');
  });

  it('enforces db_names for postgres but not for cockroachdb', async () => {
    const denied = await connectError(await forwardFor('alice', route('pg', 'alice', 'other')), 'alice', 'other');
    expect(denied.message).toBe('access to db denied: db name "other" is not allowed');
    const client = await pgClient(await forwardFor('alice', route('crdb', 'alice', 'other', 'cockroachdb')), 'alice', 'other');
    expect((await client.query<{ db: string }>('select current_database() as db')).rows).toEqual([{ db: 'other' }]);
    await client.end();
    await c.waitForEvent('db.session.start', (e) => e.code === 'TDB00I' && e['db_service'] === 'crdb' && e['db_name'] === 'other' && e['db_protocol'] === 'cockroachdb');
  });

  it('reuses the db client certificate across sessions (one issuance per database and user)', async () => {
    const before = (await c.t.admin.searchEvents({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000), eventTypes: ['cert.create'], limit: 1000 })).events.filter(
      (e) => e['cert_type'] === 'db_client',
    ).length;
    const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
    for (let i = 0; i < 3; i++) {
      const client = await pgClient(forward, 'alice', 'app');
      await client.query('select 1');
      await client.end();
    }
    const after = (await c.t.admin.searchEvents({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000), eventTypes: ['cert.create'], limit: 1000 })).events.filter(
      (e) => e['cert_type'] === 'db_client',
    ).length;
    expect(after).toBe(before);
  });

  describe('cancel', () => {
    const sleepingBackends = async (): Promise<number> =>
      (await pgServer.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'select pg_sleep(30)%' AND state = 'active'"))[0]!.n;

    it('a CancelRequest with the agent-issued key, on a new proxy connection, cancels select pg_sleep(30) within 2 s', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
      const victim = await pgClient(forward, 'alice', 'app');
      const bystander = await pgClient(forward, 'alice', 'app');
      const sleeping = victim.query('select pg_sleep(30)');
      const bystanderSleep = bystander.query('select pg_sleep(30)');
      sleeping.catch(() => undefined);
      bystanderSleep.catch(() => undefined);
      await waitFor(async () => (await sleepingBackends()) === 2 || undefined, 'two sleeping backends');

      const key = clientKey(victim);
      const pids = (await pgServer.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE 'select pg_sleep(30)%'")).map((r) => r.pid);
      // The client holds the agent's key, never the server's.
      expect(pids).not.toContain(key.processId);

      const sentAt = Date.now();
      await sendCancelRequest(connect({ host: '127.0.0.1', port: forward.port }), key);
      await expect(sleeping).rejects.toMatchObject({ code: SQLSTATE.queryCanceled });
      expect(Date.now() - sentAt).toBeLessThan(2_000);
      expect(await sleepingBackends()).toBe(1);

      // Another user holding the key cannot cancel it.
      const carolForward = await forwardFor('carol', route('pg', 'alice', 'app'));
      await sendCancelRequest(connect({ host: '127.0.0.1', port: carolForward.port }), clientKey(bystander));
      await new Promise((r) => setTimeout(r, 300));
      expect(await sleepingBackends()).toBe(1);
      await sendCancelRequest(connect({ host: '127.0.0.1', port: forward.port }), clientKey(bystander));
      await expect(bystanderSleep).rejects.toMatchObject({ code: SQLSTATE.queryCanceled });
    });

    it.skipIf(!psql.available)('psql’s Ctrl-C cancels its query through the proxy', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
      const child = spawn('psql', [`host=127.0.0.1 port=${forward.port} user=alice dbname=app sslmode=disable`, '-X', '-c', 'select pg_sleep(30)'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = once(child, 'exit');
      try {
        await waitFor(async () => (await sleepingBackends()) === 1 || undefined, 'psql’s sleeping backend');
        const sentAt = Date.now();
        child.kill('SIGINT');
        await exited;
        expect(Date.now() - sentAt).toBeLessThan(2_000);
        expect(stderr).toContain('ERROR:  canceling statement due to user request');
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  describe('the auth API guards heartbeats and service events', () => {
    let agentClient: AuthClient;
    beforeAll(async () => {
      agentClient = newAuthClient({ addr: c.t.auth.dialAddr, identity: await loadIdentity(path.join(c.dataDir, 'agent-a', 'db')) });
    });
    afterAll(() => agentClient?.close());

    it('a db agent heartbeats only for its own host id; users cannot heartbeat', async () => {
      const database = { name: 'x', protocol: 'postgres' as const, uri: 'localhost:5432' };
      const other = await rejection(agentClient.upsertDatabaseServer({ hostId: c.t.auth.hostUuid, hostname: 'h', version: '1', database }));
      expect(other).toMatchObject({ kind: 'access-denied' });
      const alice = await c.t.userClient('alice', ['db-dev']);
      expect(await rejection(alice.upsertDatabaseServer({ hostId: agent.hostId, hostname: 'h', version: '1', database }))).toMatchObject({ kind: 'access-denied' });
    });

    it('proxies heartbeat themselves; agents read them and the tunnel strategy, and name their proxies in their heartbeats', async () => {
      const proxyId = c.t.auth.hostUuid;
      expect((await agentClient.getProxies()).map((p) => p.metadata.name)).toEqual([proxyId]);
      expect(await agentClient.getTunnelStrategy()).toEqual({ type: 'agent_mesh' });
      // Only a proxy heartbeats, and only itself.
      const forged = { name: agent.hostId, hostname: 'h', publicAddr: 'evil.example.com:443', version: '1' };
      expect(await rejection(agentClient.upsertProxy(forged))).toMatchObject({ kind: 'access-denied' });
      const admin = c.t.admin;
      expect(await rejection(admin.upsertProxy(forged))).toMatchObject({ kind: 'access-denied' });
      const alice = await c.t.userClient('alice', ['db-dev']);
      expect(await rejection(alice.getProxies())).toMatchObject({ kind: 'access-denied' });
      await waitFor(async () => (await agentClient.getDatabaseServers()).find((s) => s.spec.host_id === agent.hostId)?.spec.proxy_ids?.join() === proxyId || undefined, 'proxy_ids in the heartbeat');
    });

    it('services emit only catalogued db.* events; users cannot emit at all', async () => {
      const uid = '00000000-0000-4000-8000-000000000001';
      const login = { uid, event: 'user.login', code: 'T1000I', time: new Date().toISOString(), user: 'forged' };
      expect(await rejection(agentClient.emitAuditEvents([login]))).toMatchObject({ kind: 'access-denied' });
      const alice = await c.t.userClient('alice', ['db-dev']);
      const query = { uid, event: 'db.session.query', code: 'TDB02I', time: new Date().toISOString() };
      expect(await rejection(alice.emitAuditEvents([query]))).toMatchObject({ kind: 'access-denied' });
      await agentClient.emitAuditEvents([{ ...query, cluster_name: 'forged', server_id: 'forged' }]);
      const stored = await c.waitForEvent('db.session.query', (e) => e.uid === uid);
      expect(stored).toMatchObject({ cluster_name: 'test.example.com', server_id: agent.hostId });
    });

    it('the agent\'s emitter drops only an event the auth server refuses, and the events around it are stored', async () => {
      const warnings: string[] = [];
      const mark = `refusal-${Date.now()}`;
      // The real auth server refuses a batch holding an event with an invalid uid (bad-parameter): corrupt one on
      // its way out, as a bug or a corrupted queue would.
      const corrupting = {
        emitAuditEvents: (events: readonly AuditEvent[]) =>
          agentClient.emitAuditEvents(events.map((e) => (e['db_query'] === `${mark} corrupted` ? { ...e, uid: 'not a uid!' } : e))),
      };
      const emitter = newServiceAuditEmitter({
        auth: corrupting,
        clock: c.authClock,
        logger: { warn: (message: string) => void warnings.push(message) },
        flushDelayMs: 10_000,
      });
      emitter.emit('databaseSessionQuery', { db_query: `${mark} before`, success: true });
      emitter.emit('databaseSessionQuery', { db_query: `${mark} corrupted`, success: true });
      emitter.emit('databaseSessionQuery', { db_query: `${mark} after`, success: true });
      await emitter.flush(10_000);
      await emitter.close();
      await c.waitForEvent('db.session.query', (e) => e['db_query'] === `${mark} before`);
      await c.waitForEvent('db.session.query', (e) => e['db_query'] === `${mark} after`);
      expect(warnings).toEqual(['the auth server refused an audit event, dropping it']);
    });
    it('the agent\'s emitter keeps unsent events in its spool file: a process that dies with them queued leaves them to the next one', async () => {
      const mark = `spooled-${Date.now()}`;
      const spoolFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'tp-spool-')), 'spool', 'db.jsonl');
      const warnings: string[] = [];
      const logger = { warn: (message: string) => void warnings.push(message) };
      // The first process queues two events and dies before its batching delay ends (nothing of it is closed or
      // flushed, as after kill -9): the events are in the file only.
      const dying = newServiceAuditEmitter({ auth: agentClient, clock: c.authClock, logger, flushDelayMs: 3_600_000, spoolFile });
      dying.emit('databaseSessionQuery', { db_query: `${mark} one`, success: true });
      dying.emit('databaseSessionQuery', { db_query: `${mark} two`, success: true });
      const spooled = (await readFile(spoolFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
      expect(spooled.map((e) => e['db_query'])).toEqual([`${mark} one`, `${mark} two`]);
      // A torn last line (killed mid-write) is skipped.
      await appendFile(spoolFile, '{"uid":"torn');
      // The next process sends them first, with their uids, and empties the file once they are stored.
      const next = newServiceAuditEmitter({ auth: agentClient, clock: c.authClock, logger, spoolFile });
      await next.flush(10_000);
      for (const e of spooled) expect((await c.waitForEvent('db.session.query', (x) => x.uid === e.uid))['db_query']).toBe(e['db_query']);
      expect(await readFile(spoolFile, 'utf8')).toBe('');
      // Sent again (the dead process's batch had reached the auth server after all): stored once.
      await agentClient.emitAuditEvents(spooled);
      const { events } = await c.t.admin.searchEvents({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000), eventTypes: ['db.session.query'], limit: 10_000 });
      expect(events.filter((e) => String(e['db_query']).startsWith(mark))).toHaveLength(2);
      await next.close();
      expect(warnings).toEqual([]);
    });
  });

  describe('agent and proxy lifecycles', () => {
    it('a killed agent’s db_server disappears after its TTL, and the proxy stops routing to it at once', async () => {
      const ephemeral = await c.startAgent('agent-b', [{ name: 'ephemeral', protocol: 'postgres', uri: `127.0.0.1:${pgServer.port}`, static_labels: { env: 'dev' } }], {
        heartbeat: { ttlMs: 10_000, intervalMs: 60_000 },
      });
      const listed = async () => (await c.t.admin.getDatabaseServers()).filter((s) => s.metadata.name === 'ephemeral');
      expect(await listed()).toHaveLength(1);
      await ephemeral.close();
      const forward = await forwardFor('alice', route('ephemeral', 'alice', 'app'));
      const err = await connectError(forward, 'alice', 'app');
      expect(err.message).toBe('database "ephemeral" is not available: no database service serving it is connected to the proxy');
      expect(await listed()).toHaveLength(1);
      c.authClock.advance(11_000);
      expect(await listed()).toEqual([]);
      // agent-a's databases (60 s TTL, renewed) are still there.
      expect((await c.t.admin.getDatabaseServers()).map((s) => s.metadata.name)).toEqual(['crdb', 'pg', 'rogue']);
    });

    it('a restarted agent uses its stored identity, with no token', async () => {
      await agent.close();
      const hostId = agent.hostId;
      agent = await c.startAgent('agent-a', databases, { join: { authServer: `127.0.0.1:${c.proxyPort}`, caPins: [] } });
      expect(agent.hostId).toBe(hostId);
      const client = await pgClient(await forwardFor('alice', route('pg', 'alice', 'app')), 'alice', 'app');
      expect((await client.query<{ u: string }>('select current_user as u')).rows).toEqual([{ u: 'alice' }]);
      await client.end();
    });

    it('after a proxy restart the agent’s tunnel reconnects and sessions work again', async () => {
      const forward = await forwardFor('alice', route('pg', 'alice', 'app'));
      await c.restartProxy();
      const client = await waitFor(async () => {
        const attempt = new PgClient({ host: '127.0.0.1', port: forward.port, user: 'alice', database: 'app', ssl: false });
        attempt.on('error', () => undefined);
        try {
          await attempt.connect();
          return attempt;
        } catch {
          await attempt.end().catch(() => undefined);
          return undefined;
        }
      }, 'a session after the proxy restart');
      clients.push(client);
      expect((await client.query<{ u: string }>('select current_user as u')).rows).toEqual([{ u: 'alice' }]);
      expect(agent.tunnelState).toBe('connected');
    });
  });
});

describe.skipIf(!postgres)('joining as a db agent', () => {
  let c: DbTestCluster;
  beforeAll(async () => {
    c = await startDbTestCluster();
  });
  afterAll(() => c?.close());

  it('refuses an auth server whose CA does not match the pin', async () => {
    const err = await rejection(c.startAgent('bad-pin', [{ name: 'x', protocol: 'postgres', uri: '127.0.0.1:1' }], {
      join: { token: await c.dbToken(), authServer: `127.0.0.1:${c.proxyPort}`, caPins: [`sha256:${'00'.repeat(32)}`] },
    }));
    expect(err).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_CA_PIN_MISMATCH' });
  });

  it('refuses to start without a token the first time', async () => {
    const err = await rejection(c.startAgent('no-token', [{ name: 'x', protocol: 'postgres', uri: '127.0.0.1:1' }], {
      join: { authServer: `127.0.0.1:${c.proxyPort}`, caPins: await c.caPins() },
    }));
    expect(err.message).toBe('the database service needs --token, --auth-server and --ca-pin to join the cluster');
  });

  it('joins with the auth server’s own address too (the tunnel then goes to the proxy address it is given)', async () => {
    const agent = await c.startAgent('via-auth', [{ name: 'x', protocol: 'postgres', uri: '127.0.0.1:1' }], {
      join: { token: await c.dbToken(), authServer: c.t.auth.dialAddr, caPins: await c.caPins() },
      proxyAddr: `127.0.0.1:${c.proxyPort}`,
    });
    expect(agent.tunnelState).toBe('connected');
  });
});
