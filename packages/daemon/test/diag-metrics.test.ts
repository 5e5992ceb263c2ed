/**
 * The diagnostic endpoint of a real process (auth + proxy on PostgreSQL): `/metrics` is Prometheus text whose
 * backend, certificate and failed-login counters move with the traffic and whose cache gauge shows the auth cache
 * (sessions, audit queues and the proxy's cache move in `e2e/test/proxy-cache.test.ts`), and `/readyz` follows the backend: 503 naming it while PostgreSQL is
 * stopped, 200 again once it is back, without a restart.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { BALANCED_V1, generateKeyPair } from '@teleport-ts/core/ca';
import { usePostgres } from '@teleport-ts/testkit';
import { newLogger } from '../src/logger.js';
import { startProcess, type RunningProcess } from '../src/process.js';
import { buildProcessConfig } from '../src/start.js';

/** Prometheus text exposition: comments, or `name{labels} value` (Prometheus reads NaN and Inf in any case; prom-client writes `Nan`). */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|[Nn][Aa][Nn]|[+-][Ii]nf)$/;

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect(line).toMatch(SAMPLE);
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Sum of the samples whose name (with labels) starts with `prefix`. */
function total(all: Map<string, number>, prefix: string): number {
  let sum = 0;
  for (const [name, value] of all) if (name.startsWith(prefix)) sum += value;
  return sum;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('diag endpoint: /metrics and /readyz on a process with a PostgreSQL backend', () => {
  const pg = usePostgres();
  let dir: string;
  let proc: RunningProcess;
  let diag: string;
  const logged: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tp-diag-'));
    await pg.server.createDatabase('teleport_diag');
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(
      cfg,
      [
        'version: v3',
        'teleport:',
        `  data_dir: ${path.join(dir, 'data')}`,
        '  diag_addr: 127.0.0.1:0',
        '  storage:',
        '    type: postgres',
        `    conn_string: ${pg.server.url('teleport_diag', { sslmode: 'disable' })}`,
        'auth_service:',
        '  listen_addr: 127.0.0.1:0',
        '  cluster_name: diag.example.com',
        'proxy_service:',
        '  web_listen_addr: 127.0.0.1:0',
        '',
      ].join('\n'),
    );
    const { config } = await buildProcessConfig({ config: cfg });
    proc = await startProcess(config, { logger: newLogger({ output: 'stderr', severity: 'warn', format: 'text', write: (line) => logged.push(line) }) });
    diag = proc.diag!.addr;
  }, 60_000);
  afterAll(async () => {
    await proc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('/metrics parses as Prometheus text, and the backend counters move with the traffic', async () => {
    const scrape = async () => {
      const res = await fetch(`http://${diag}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return samples(await res.text());
    };
    const before = await scrape();
    expect(before.get('teleport_backend_up')).toBe(1);
    expect(before.get('teleport_proxy_connected_agents')).toBe(0);
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(before.get('teleport_cache_healthy{cache="auth"}')).toBe(1);
    expect(before.get('teleport_cache_initializations_total{cache="auth"}')).toBeGreaterThanOrEqual(1);
    expect(before.get('teleport_audit_queue_depth{service="proxy"}')).toBe(0);
    const admin = newAuthClient({ addr: proc.auth!.dialAddr, identity: await loadIdentity(proc.auth!.adminIdentityDir) });
    try {
      for (let i = 0; i < 5; i++) await admin.createUser({ name: `metrics-${i}`, roles: ['access'] });
      const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
      const keys = { tlsPublicKey: tls.publicKeyPem, sshPublicKey: ssh.sshPublicKey };
      for (let i = 0; i < 2; i++) await admin.generateUserCerts({ user: 'metrics-0', ...keys, ttl: 60_000 });
      for (let i = 0; i < 3; i++) await expect(admin.authenticateUser({ user: 'metrics-1', password: 'not the password', ...keys })).rejects.toThrow();
    } finally {
      await admin.close();
    }
    const after = await scrape();
    expect((after.get('teleport_certificates_issued_total{cert_type="user"}') ?? 0) - (before.get('teleport_certificates_issued_total{cert_type="user"}') ?? 0)).toBe(2);
    expect((after.get('failed_login_attempts_total') ?? 0) - (before.get('failed_login_attempts_total') ?? 0)).toBe(3);
    const writes = (m: Map<string, number>) =>
      total(m, 'teleport_backend_request_duration_seconds_count{operation="create"') + total(m, 'teleport_backend_request_duration_seconds_count{operation="put"') + total(m, 'teleport_backend_request_duration_seconds_count{operation="atomicWrite"');
    expect(writes(after) - writes(before)).toBeGreaterThanOrEqual(5);
    expect(total(after, 'teleport_backend_request_duration_seconds_bucket{le="+Inf",operation="get"}')).toBeGreaterThan(0);
  });

  it('/readyz answers 503 naming the backend while PostgreSQL is stopped (the proxy\'s /readyz?service=proxy stays 200), and 200 again once it is back', async () => {
    const readyz = async (query = '') => {
      const res = await fetch(`http://${diag}/readyz${query}`);
      return { status: res.status, body: (await res.json()) as { status: string } };
    };
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await readyz('?service=proxy')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await readyz('?service=db')).toEqual({ status: 503, body: { status: 'this process runs no db service' } });
    expect(await readyz('?service=../x')).toEqual({ status: 503, body: { status: 'unknown service' } });
    await pg.server.stop();
    try {
      const down = await waitFor('/readyz 503', async () => ((await readyz()).status === 503 ? readyz() : undefined), 10_000);
      expect(down.body.status).toMatch(/^backend unreachable: /);
      expect((await readyz('?service=auth')).body.status).toMatch(/^backend unreachable: /);
      // The proxy routes from its cache meanwhile: a load balancer checking it keeps it in rotation.
      expect(await readyz('?service=proxy')).toEqual({ status: 200, body: { status: 'ok' } });
      const metrics = samples(await (await fetch(`http://${diag}/metrics`)).text());
      expect(metrics.get('teleport_backend_up')).toBe(0);
      // The probes' reads fail (once the driver gives up on its connection attempt) and are counted.
      await waitFor('backend errors counted', async () => {
        const now = samples(await (await fetch(`http://${diag}/metrics`)).text());
        return total(now, 'teleport_backend_errors_total{operation="get"}') > 0 || undefined;
      }, 15_000);
      // The auth cache lost its watch: not healthy until it is initialised again.
      await waitFor('auth cache unhealthy', async () => (samples(await (await fetch(`http://${diag}/metrics`)).text()).get('teleport_cache_healthy{cache="auth"}') === 0 || undefined), 15_000);
    } finally {
      await pg.server.start();
    }
    await waitFor('/readyz 200', async () => ((await readyz()).status === 200 ? true : undefined), 15_000);
    const healed = await waitFor('auth cache healthy again', async () => {
      const now = samples(await (await fetch(`http://${diag}/metrics`)).text());
      return now.get('teleport_cache_healthy{cache="auth"}') === 1 ? now : undefined;
    }, 20_000);
    expect(healed.get('teleport_cache_initializations_total{cache="auth"}')).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('closes cleanly through the instrumented backend (the driver keeps private state)', async () => {
    await proc.close();
    expect(logged.filter((l) => l.includes('error while shutting down'))).toEqual([]);
    await expect(fetch(`http://${diag}/readyz`)).rejects.toThrow();
  });
});
