/**
 * `db_service.workers: 2` end to end, with the built programs: the db agent serves sessions from two processes
 * (the one started and a forked worker), the proxy spreads sessions over both, and what every session needs still
 * works in each process: queries, an audit event per statement, and a CancelRequest (keys are per process, so the
 * proxy sends it to both).
 *
 * client -> tsh proxy db --tunnel -> proxy -> reverse tunnels -> db agent processes -> PostgreSQL (mTLS)
 */

import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCancelRequest, serializeQuery, type BackendMessage } from '@teleport-ts/core/protocol/postgres';
import { agentConfigLines, requirePostgres, requireTool, roachService, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, nextTotp, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { pgSession } from './pg-session.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const ss = requireTool('ss', 'iproute2');
const PASSWORD = 'correct horse battery staple';

/** Process ids holding TCP connections to `port` (from `ss -tnp`). */
async function pidsConnectedTo(port: number): Promise<Set<number>> {
  const { stdout } = await promisify(execFile)('ss', ['-Htnp', 'state', 'established', 'dst', `127.0.0.1:${port}`]);
  return new Set([...stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

describe.skipIf(postgres === undefined || !ss.available)('db agent with db_service.workers: 2', () => {
  let cluster: TestCluster;
  let pg: PostgresServer;
  let agent: RunningDaemon | undefined;
  let tunnel: { port: number; stop(): Promise<void> } | undefined;
  const home = () => path.join(cluster.dir, 'tsh-alice');
  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);

  beforeAll(async () => {
    cluster = await startCluster();
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;
    const certs = path.join(cluster.dir, 'pg-certs');
    expect((await tctl(['auth', 'sign', '--format=cockroachdb', '--host=localhost', `--out=${certs}`])).code).toBe(0);
    pg = await startPostgres({
      tls: { certFile: path.join(certs, 'node.crt'), keyFile: path.join(certs, 'node.key'), caFile: path.join(certs, 'ca-client.crt') },
      hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert'],
    });
    await pg.query('CREATE ROLE alice LOGIN');
    await pg.createDatabase('alice');
    const token = /--token=([0-9a-f]+)/.exec((await tctl(['tokens', 'add', '--type=db'])).stdout)![1]!;
    const agentConfig = path.join(cluster.dir, 'agent.yaml');
    const services = roachService({ port: pg.port, caFile: path.join(certs, 'ca.crt') });
    services.splice(services.indexOf('  enabled: yes') + 1, 0, '  workers: 2');
    await writeFile(agentConfig, [...agentConfigLines({ name: 'db-agent', dataDir: path.join(cluster.dir, 'agent-data'), services }), ''].join('\n'));
    agent = await startDaemon(['start', '--roles=db', `--auth-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, `--token=${token}`, '-c', agentConfig]);
    const secret = await completeInvite(await cluster.addUser('alice', ['--roles=access', '--db-users=*', '--db-names=*']), PASSWORD);
    const login = await runTsh(home(), ['login', `--proxy=${cluster.proxyAddr}`, '--user=alice', '--insecure'], {
      input: `${PASSWORD}\n${secret ? nextTotp(secret) : ''}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    for (let i = 0; !(await runTsh(home(), ['db', 'ls', '--insecure'])).stdout.includes('roach'); i++) {
      if (i > 100) throw new Error('roach never listed');
      await new Promise((r) => setTimeout(r, 200));
    }
    const child = spawn(bin('tsh'), ['proxy', 'db', '--insecure', '--tunnel', '--db-user=alice', '--db-name=alice', 'roach'], {
      env: { ...process.env, TELEPORT_HOME: home(), TELEPORT_PROXY: '', TELEPORT_USER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    for (let i = 0; !/on 127\.0\.0\.1:(\d+)\./.test(out); i++) {
      if (i > 400 || child.exitCode !== null) throw new Error(`tsh proxy db did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    tunnel = {
      port: Number(/on 127\.0\.0\.1:(\d+)\./.exec(out)![1]),
      stop: async () => {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      },
    };
  }, 180_000);

  afterAll(async () => {
    await tunnel?.stop();
    await agent?.stop();
    await pg?.destroy();
    await cluster?.stop();
  });

  it('spreads sessions over both processes; each answers, audits every statement, and cancels its own queries', async () => {
    // Both processes' tunnels must be up before the sessions, or all go to the first one.
    await expect.poll(() => agent!.output().match(/reverse tunnels are up/g)?.length ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const sessions = [pgSession(tunnel!.port, { user: 'alice', database: 'alice' }), pgSession(tunnel!.port, { user: 'alice', database: 'alice' }), pgSession(tunnel!.port, { user: 'alice', database: 'alice' }), pgSession(tunnel!.port, { user: 'alice', database: 'alice' })];
    const keys: Extract<BackendMessage, { type: 'backendKeyData' }>[] = [];
    for (const s of sessions) {
      keys.push((await s.until((m) => m.type === 'backendKeyData')) as Extract<BackendMessage, { type: 'backendKeyData' }>);
      await s.until((m) => m.type === 'readyForQuery');
    }
    // Four sessions held open: two database connections from each agent process.
    const pids = await pidsConnectedTo(pg.port);
    expect(pids.size).toBe(2);
    expect(pids.has(agent!.pid)).toBe(true);

    for (const [i, s] of sessions.entries()) {
      s.socket.write(serializeQuery(`select 'workers-${i}' as tag, pg_sleep(30)`));
    }
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    for (const key of keys) {
      const cancel = net.connect({ host: '127.0.0.1', port: tunnel!.port });
      cancel.on('error', () => {});
      cancel.once('connect', () => cancel.end(serializeCancelRequest(key)));
    }
    for (const s of sessions) expect(await s.until((m) => m.type === 'errorResponse', 10_000)).toMatchObject({ fields: { code: '57014' } });
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const s of sessions) s.socket.destroy();

    // Every statement is audited, whichever process ran it.
    await expect
      .poll(
        async () => {
          const res = await tctl(['audit', 'events', '--format=json', '--type=db.session.query', '--limit=10000', '--from=1h']);
          return sessions.map((_, i) => res.stdout.includes(`workers-${i}`));
        },
        { timeout: 20_000, interval: 500 },
      )
      .toEqual([true, true, true, true]);
  }, 90_000);
});
