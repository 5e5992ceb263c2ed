/**
 * `teleport.proxy_server` (Teleport's v3 key) and `--proxy-server`: a db agent configured with only the proxy's
 * address joins through it (the auth API by the proxy's ALPN passthrough, the reverse tunnel to that proxy), and a
 * user reaches PostgreSQL through the proxy and that agent. A config or flags naming both an auth server and a proxy
 * are refused in one line.
 */

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRole } from '@teleport-ts/core/types';
import { requirePostgres, type PostgresServer } from '@teleport-ts/testkit';
import { startProcess, type RunningProcess } from '../src/process.js';
import { buildProcessConfig } from '../src/start.js';
import { databaseUserCert, startClusterPostgres, startDbTestCluster, startLocalForward, testLogger, type DbTestCluster } from './db-helpers.js';
import { PgClient } from './pg-client.js';

const postgres = requirePostgres();

describe('joining with teleport.proxy_server', () => {
  it('refuses --auth-server with --proxy-server, and maps the key into the join settings', async () => {
    await expect(buildProcessConfig({ roles: 'db', authServer: 'a:3025', proxyServer: 'p:3080' })).rejects.toThrow(
      /^--auth-server and --proxy-server cannot be used together/,
    );
    const { config } = await buildProcessConfig({ roles: 'db', proxyServer: 'proxy.example.com:3080', dataDir: '/nonexistent/data' });
    expect(config.join).toMatchObject({ authServer: 'proxy.example.com:3080', proxyServer: 'proxy.example.com:3080' });
  });
});

describe.skipIf(!postgres)('a db agent configured with teleport.proxy_server', () => {
  let c: DbTestCluster;
  let pg: PostgresServer;
  let agent: RunningProcess | undefined;

  beforeAll(async () => {
    c = await startDbTestCluster();
    pg = (await startClusterPostgres(c.t, path.join(c.dataDir, 'pg'))).server;
    for (const sql of ['CREATE ROLE alice LOGIN', 'CREATE DATABASE app']) await pg.query(sql);
    await c.t.admin.createRole(
      parseRole({ kind: 'role', version: 'v7', metadata: { name: 'db-dev' }, spec: { allow: { db_labels: { env: 'dev' }, db_users: ['alice'], db_names: ['app'] } } }),
    );
    await c.t.admin.createUser({ name: 'alice', roles: ['db-dev'], invite: false });
  });

  afterAll(async () => {
    await agent?.close();
    await c?.close();
    await pg?.destroy();
  });

  it('joins through the proxy and serves a connection made through it', async () => {
    const file = path.join(c.dataDir, 'agent.yaml');
    await writeFile(
      file,
      [
        'version: v3',
        'teleport:',
        '  nodename: agent-via-proxy',
        `  data_dir: ${path.join(c.dataDir, 'agent-via-proxy')}`,
        `  auth_token: ${await c.dbToken()}`,
        `  proxy_server: 127.0.0.1:${c.proxyPort}`,
        `  ca_pin: ${(await c.caPins())[0]}`,
        'auth_service: { enabled: no }',
        'proxy_service: { enabled: no }',
        'db_service:',
        '  enabled: yes',
        `  databases: [{ name: pg, protocol: postgres, uri: "127.0.0.1:${pg.port}", static_labels: { env: dev } }]`,
        '',
      ].join('\n'),
    );
    const { config } = await buildProcessConfig({ config: file });
    expect(config.roles).toEqual(['db']);
    expect(config.join).toMatchObject({ proxyServer: `127.0.0.1:${c.proxyPort}` });
    agent = await startProcess(config, { logger: testLogger('agent') });
    await agent.db!.ready;
    expect(agent.db!.tunnelState).toBe('connected');
    const [server] = await c.t.admin.getDatabaseServers();
    expect(server).toMatchObject({ metadata: { name: 'pg' }, spec: { hostname: 'agent-via-proxy', host_id: agent.db!.hostId } });

    const creds = await databaseUserCert(c.t, 'alice', { serviceName: 'pg', protocol: 'postgres', username: 'alice', database: 'app' });
    const forward = await startLocalForward(() => c.proxyPort, creds);
    const client = new PgClient({ host: '127.0.0.1', port: forward.port, user: 'alice', database: 'app', ssl: false, connectionTimeoutMillis: 15_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ user: string; db: string }>('select current_user as user, current_database() as db');
      expect(rows).toEqual([{ user: 'alice', db: 'app' }]);
    } finally {
      await client.end().catch(() => undefined);
      await forward.close();
    }
  });
});
