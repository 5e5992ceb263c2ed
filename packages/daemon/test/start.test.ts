/**
 * `teleport-ts start` and `teleport-ts configure` as a user runs them: the CLI (from source, through tsx)
 * in a child process, on free ports, stopped with SIGTERM.
 */

import { spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { parseConfig } from '@teleport-ts/core/config';
import { configure, starterConfig } from '../src/configure.js';
import { newLogger } from '../src/logger.js';
import { startProcess } from '../src/process.js';
import { buildProcessConfig, parseLabels } from '../src/start.js';

const root = path.resolve(import.meta.dirname, '../../..');
const cli = path.join(root, 'packages/daemon/src/cli.ts');

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'tp-start-'));
  dirs.push(d);
  return d;
}

/** A GET to a self-signed HTTPS server; its status. */
function fetchInsecure(url: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    }).on('error', reject);
  });
}

describe('teleport-ts start (process)', () => {
  it('starts auth from a config file, serves /readyz, takes API calls, and stops cleanly on SIGTERM', async () => {
    const dir = await tempDir();
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(
      cfg,
      [
        'version: v3',
        'teleport:',
        '  nodename: start-test',
        `  data_dir: ${path.join(dir, 'data')}`,
        '  diag_addr: 127.0.0.1:0',
        '  log:',
        '    severity: DEBUG',
        '    format: { output: json }',
        'auth_service:',
        '  listen_addr: 127.0.0.1:0',
        '  cluster_name: start.example.com',
        '  tokens: ["node:static-secret-token-0123456789"]',
        'proxy_service:',
        '  enabled: no',
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', cli, 'start', '-c', cfg], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('press Ctrl-C to stop') && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out).toContain('storage backend "sqlite" is up');
      expect(out).toMatch(/auth service is up on 127\.0\.0\.1:\d+ \(cluster "start\.example\.com"\)/);
      expect(out).toMatch(/CA pin: sha256:[0-9a-f]{64}/);
      expect(out).toContain('tctl users add');
      const diag = /diagnostics on http:\/\/([\d.:]+)/.exec(out)![1];
      const ready = await fetch(`http://${diag}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok' });
      expect((await fetch(`http://${diag}/healthz`)).status).toBe(200);

      // The admin identity tctl uses: key 0600, and it works against the running server.
      const adminDir = path.join(dir, 'data', 'admin');
      expect((await stat(path.join(adminDir, 'key.pem'))).mode & 0o777).toBe(0o600);
      const identity = await loadIdentity(adminDir);
      const client = newAuthClient({ addr: identity.authServers![0]!, identity });
      try {
        const { token } = await client.createUser({ name: 'alice', roles: ['access'] });
        expect((await client.getUser('alice')).spec.roles).toEqual(['access']);
        expect((await client.getTokens()).length).toBe(1);
        expect(token.id).toMatch(/^[0-9a-f]{32}$/);
        await client.createToken({ roles: ['Db'], name: 'a-dynamic-secret-token-abcdef' });
        expect(err).not.toContain(token.id);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('teleport-ts: stopped.');
    const lines = err.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l['message'] === 'auth service is up' && l['component'] === 'auth')).toBe(true);
    expect(lines.some((l) => l['message'] === 'auth service stopped')).toBe(true);
    expect(lines.every((l) => typeof l['timestamp'] === 'string' && typeof l['level'] === 'string')).toBe(true);
    for (const secret of ['static-secret-token-0123456789', 'a-dynamic-secret-token-abcdef']) expect(err).not.toContain(secret);
  });
});

describe('teleport-ts start (configuration)', () => {
  it('applies flags over the file and fills defaults', async () => {
    const dir = await tempDir();
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(cfg, 'teleport:\n  nodename: from-file\n  ca_pin: sha256:' + 'ab'.repeat(32) + '\nproxy_service:\n  public_addr: proxy.example.com:443\n');
    const { config } = await buildProcessConfig({ config: cfg, nodename: 'from-flag', roles: 'auth', dataDir: dir, labels: 'env=dev,team=db' });
    expect(config).toMatchObject({
      roles: ['auth'],
      nodename: 'from-flag',
      dataDir: dir,
      storage: { type: 'sqlite' },
      auth: { listenAddr: '0.0.0.0:3025', staticTokens: [] },
      proxyPublicAddr: 'proxy.example.com:443',
      join: { caPins: [`sha256:${'ab'.repeat(32)}`], labels: { env: 'dev', team: 'db' } },
    });
    const { config: none } = await buildProcessConfig({ dataDir: dir, nodename: 'n1' });
    expect(none.roles).toEqual(['auth', 'proxy']);
    expect(none.proxyPublicAddr).toBe('n1:3080');
    await expect(buildProcessConfig({ dataDir: dir, caPin: ['md5:abc'] })).rejects.toThrow('invalid CA pin "md5:abc"');
    await expect(buildProcessConfig({ dataDir: dir, roles: 'auth,bogus' })).rejects.toThrow('unknown role "bogus"');
    expect(() => parseLabels('novalue')).toThrow('invalid label "novalue"');
  });

  it('passes proxy_service (listen address, public addresses, key pairs) to the proxy', async () => {
    const dir = await tempDir();
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(
      cfg,
      'proxy_service:\n  web_listen_addr: 127.0.0.1:3443\n  public_addr: [proxy.example.com:443]\n  https_keypairs:\n    - { key_file: /k.pem, cert_file: /c.pem }\n',
    );
    const { config } = await buildProcessConfig({ config: cfg, dataDir: dir, nodename: 'n1' });
    expect(config.proxy).toEqual({ listenAddr: '127.0.0.1:3443', publicAddrs: ['proxy.example.com:443'], httpsKeyPairs: [{ key_file: '/k.pem', cert_file: '/c.pem' }] });
    await writeFile(cfg, 'proxy_service:\n  https_keypairs:\n    - { cert_file: /c.pem }\n');
    await expect(buildProcessConfig({ config: cfg, dataDir: dir })).rejects.toThrow('proxy_service.https_keypairs[0].key_file is required');
  });

  it('teleport.connection_limits.rates sets the per-address limit of the auth and proxy public endpoints', async () => {
    const dir = await tempDir();
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(
      cfg,
      [
        'teleport:',
        '  nodename: limits',
        '  connection_limits:',
        '    rates: [{ period: 1m, average: 1, burst: 2 }]',
        'auth_service: { listen_addr: "127.0.0.1:0", cluster_name: limits.example.com }',
        'proxy_service: { web_listen_addr: "127.0.0.1:0" }',
        '',
      ].join('\n'),
    );
    const { config } = await buildProcessConfig({ config: cfg, dataDir: path.join(dir, 'data') });
    expect(config.rateLimit).toEqual({ average: 1 / 60, burst: 2 });
    const proc = await startProcess(config, { logger: newLogger({ output: 'stderr', severity: 'error', format: 'text', write: () => {} }) });
    try {
      // Two invite lookups pass (404: no such token), the third is refused, at the auth API and at the proxy alike.
      const auth = newAuthClient({ addr: proc.auth!.dialAddr, tls: { ca: (await loadIdentity(proc.auth!.adminIdentityDir)).caCerts } });
      const outcomes: string[] = [];
      for (let i = 0; i < 3; i++) outcomes.push(await auth.getUserToken('no-such-token').then(() => 'ok', (e: { kind: string }) => e.kind));
      expect(outcomes).toEqual(['not-found', 'not-found', 'limit-exceeded']);
      await auth.close();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetchInsecure(`https://${proc.proxy!.addr}/webapi/users/password/token/no-such-token`)).status);
      expect(statuses.slice(2)).toEqual([429]);
    } finally {
      await proc.close();
    }
    await writeFile(cfg, 'teleport:\n  connection_limits:\n    rates: [{ period: 10ms, average: 1, burst: 1 }]\n');
    await expect(buildProcessConfig({ config: cfg, dataDir: dir })).rejects.toThrow('every rate period must be a duration of at least 1s');
  });

  it('configure writes a starter config that start reads, and refuses to overwrite', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'teleport.yaml');
    const message = await configure({ output: `file://${file}`, clusterName: 'example.com', dataDir: path.join(dir, 'data'), nodename: 'n1' });
    expect(message).toContain(`created at "${file}"`);
    const text = await readFile(file, 'utf8');
    expect(text).toBe(starterConfig({ clusterName: 'example.com', dataDir: path.join(dir, 'data'), nodename: 'n1' }));
    const parsed = parseConfig(text);
    expect(parsed.auth_service).toMatchObject({ enabled: true, listen_addr: '0.0.0.0:3025', cluster_name: 'example.com', authentication: { second_factor: 'otp' } });
    expect(parsed.ssh_service).toEqual({ enabled: false });
    await expect(configure({ output: `file://${file}` })).rejects.toMatchObject({ kind: 'already-exists' });
    expect(await readFile(file, 'utf8')).toBe(text);
    expect(await configure({})).toContain('version: v3');
  });
});
