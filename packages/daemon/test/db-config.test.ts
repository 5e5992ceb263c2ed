/**
 * The db role's configuration and wiring: `--db-*` flags and `db_service.databases` into the process config, the
 * token given as a file, `teleport-ts db configure create`, and one process running auth, proxy and db together
 * (the agent's identity issued in process, its tunnel to the local proxy).
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { parseConfig } from '@teleport-ts/core/config';
import { startProcess } from '../src/process.js';
import { configureDatabaseAgent, databaseAgentConfig } from '../src/roles/db/command.js';
import { buildProcessConfig } from '../src/start.js';
import { databaseUserCert, startLocalForward, testLogger, waitFor } from './db-helpers.js';
import { PgClient } from './pg-client.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'tp-dbcfg-'));
  dirs.push(d);
  return d;
}

const PIN = `sha256:${'ab'.repeat(32)}`;

describe('db role configuration', () => {
  it('takes one database from --db-* flags (labels from --labels) and the token from a file', async () => {
    const dir = await tempDir();
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'secret-token-from-file\n');
    const { config } = await buildProcessConfig({
      roles: 'db',
      dataDir: dir,
      token: tokenFile,
      authServer: 'proxy.example.com:3080',
      caPin: [PIN],
      dbName: 'orders',
      dbProtocol: 'postgres',
      dbUri: 'db.internal:5432',
      dbDescription: 'Orders',
      labels: 'env=prod,team=shop',
    });
    expect(config.roles).toEqual(['db']);
    expect(config.join).toMatchObject({ token: 'secret-token-from-file', authServer: 'proxy.example.com:3080', caPins: [PIN] });
    expect(config.db?.databases).toEqual([{ name: 'orders', description: 'Orders', protocol: 'postgres', uri: 'db.internal:5432', static_labels: { env: 'prod', team: 'shop' } }]);
    await expect(buildProcessConfig({ roles: 'db', dataDir: dir, dbName: 'x', dbProtocol: 'mysql', dbUri: 'h:1' })).rejects.toThrow(
      'database flags.protocol "mysql" is not supported',
    );
    await expect(buildProcessConfig({ roles: 'db', dataDir: dir, dbName: 'x', dbProtocol: 'postgres' })).rejects.toThrow('database flags.uri is required');
  });

  it('reads db_service.databases from teleport.yaml, refusing bad entries in one line', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'teleport.yaml');
    await writeFile(
      file,
      [
        'db_service:',
        '  enabled: yes',
        '  databases:',
        '  - name: orders',
        '    protocol: postgres',
        '    uri: localhost:5432',
        '    static_labels: { env: dev }',
        '    tls: { mode: verify-ca, ca_cert_file: /etc/ca.pem, server_name: db.internal }',
        '  - name: ledger',
        '    protocol: cockroachdb',
        '    uri: crdb:26257',
        'auth_service: { enabled: no }',
        'proxy_service: { enabled: no }',
        '',
      ].join('\n'),
    );
    const { config } = await buildProcessConfig({ config: file, dataDir: dir });
    expect(config.roles).toEqual(['db']);
    expect(config.db?.databases).toEqual([
      { name: 'orders', protocol: 'postgres', uri: 'localhost:5432', static_labels: { env: 'dev' }, tls: { mode: 'verify-ca', ca_cert_file: '/etc/ca.pem', server_name: 'db.internal' } },
      { name: 'ledger', protocol: 'cockroachdb', uri: 'crdb:26257' },
    ]);
    expect(() => parseConfig('db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    tls: { mode: verify-none }\n')).toThrow(
      'db_service.databases[0].tls.mode must be one of verify-full, verify-ca, insecure',
    );
    expect(() => parseConfig('db_service:\n  databases:\n  - { name: a, protocol: postgres, uri: "h:1" }\n  - { name: a, protocol: postgres, uri: "h:2" }\n')).toThrow(
      'db_service.databases: the name "a" is used twice',
    );
  });

  it('db configure create writes an agent config that start reads, and never overwrites', async () => {
    const dir = await tempDir();
    const flags = {
      name: 'orders',
      protocol: 'postgres',
      uri: 'localhost:5432',
      labels: 'env=dev',
      token: '/var/lib/teleport/token',
      proxy: 'proxy.example.com:3080',
      caPin: [PIN],
      dataDir: path.join(dir, 'data'),
      nodename: 'db-1',
    };
    const text = databaseAgentConfig(flags);
    const parsed = parseConfig(text);
    expect(parsed.teleport).toMatchObject({ nodename: 'db-1', auth_token: '/var/lib/teleport/token', auth_server: 'proxy.example.com:3080', ca_pin: [PIN] });
    expect(parsed.db_service).toEqual({ enabled: true, databases: [{ name: 'orders', protocol: 'postgres', uri: 'localhost:5432', static_labels: { env: 'dev' } }] });
    expect(parsed.auth_service).toEqual({ enabled: false });
    const out = path.join(dir, 'teleport.yaml');
    expect(await configureDatabaseAgent({ ...flags, output: `file://${out}` })).toContain(`written to "${out}"`);
    expect(await readFile(out, 'utf8')).toBe(text);
    await expect(configureDatabaseAgent({ ...flags, output: out })).rejects.toMatchObject({ kind: 'already-exists' });
  });
});

describe('auth, proxy and db in one process', () => {
  it('issues the agent its identity in process and tunnels it to the local proxy', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'teleport.yaml');
    await writeFile(
      file,
      [
        'teleport: { nodename: all-in-one }',
        'auth_service: { enabled: yes, listen_addr: "127.0.0.1:0", cluster_name: one.example.com }',
        'proxy_service: { enabled: yes, web_listen_addr: "127.0.0.1:0" }',
        'db_service:',
        '  enabled: yes',
        '  databases: [{ name: nowhere, protocol: postgres, uri: "127.0.0.1:1", static_labels: { env: dev } }]',
        '',
      ].join('\n'),
    );
    const { config } = await buildProcessConfig({ config: file, dataDir: path.join(dir, 'data') });
    expect(config.roles).toEqual(['auth', 'proxy', 'db']);
    const proc = await startProcess(config, { logger: testLogger('process') });
    try {
      await proc.db!.ready;
      expect(proc.pendingRoles).toEqual([]);
      const admin = newAuthClient({ addr: proc.auth!.dialAddr, identity: await loadIdentity(proc.auth!.adminIdentityDir) });
      try {
        const [server] = await admin.getDatabaseServers();
        expect(server).toMatchObject({ metadata: { name: 'nowhere' }, spec: { host_id: proc.auth!.hostUuid, hostname: 'all-in-one' } });
        await admin.createUser({ name: 'alice', roles: ['access'], dbUsers: ['alice'], dbNames: ['app'], invite: false });
        const t = { admin } as Parameters<typeof databaseUserCert>[0];
        const creds = await databaseUserCert(t, 'alice', { serviceName: 'nowhere', protocol: 'postgres', username: 'alice', database: 'app' });
        const proxyPort = Number(proc.proxy!.addr.split(':').pop());
        const forward = await startLocalForward(() => proxyPort, creds);
        try {
          const client = new PgClient({ host: '127.0.0.1', port: forward.port, user: 'alice', database: 'app', ssl: false });
          client.on('error', () => undefined);
          // The agent authorized alice and tried the database: the refusal names it.
          const err = await waitFor(() => client.connect().then(() => undefined, (e: Error) => e), 'a refusal');
          expect(err.message).toBe('failed to connect to database "nowhere" at 127.0.0.1:1: ECONNREFUSED');
        } finally {
          await forward.close();
        }
      } finally {
        await admin.close();
      }
    } finally {
      await proc.close();
    }
  });
});
