/**
 * CA rotation under traffic, with the built programs: auth and proxy in one daemon, a db agent (in front of a real
 * PostgreSQL) and an SSH node each in their own daemon, both joined through the proxy. While a loop logs in with
 * tsh, queries through `tsh db connect` and runs `tsh ssh node echo` (and a psql session opened before stays
 * connected), an automatic host CA rotation and then a user CA rotation run to standby with a short grace period:
 * - no operation of the loop fails, the running psql session keeps answering, neither daemon restarts;
 * - `tctl auth rotate status` lists agents and proxies behind the rotation while it runs, and none at the end;
 * - afterwards the agent's certificate from before (old host CA) is refused by the auth API, while the renewed one
 *   on disk is accepted; a tsh profile from before the user CA rotation is refused.
 */

import { writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigLines, openPsqlSession, waitUntil as pollUntil, requirePostgres, requireTool, roachService, startCertDatabase, startLocalDbProxy } from '@teleport-ts/testkit';
import type { PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const PASSWORD = 'correct horse battery staple';
const LOGIN = os.userInfo().username;
const GRACE = '18s';

/** testkit's `waitUntil`, polling every 200 ms. */
const waitUntil = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, context?: () => string): Promise<T> =>
  pollUntil(what, check, timeoutMs, context, 200);

/** On a failure, the daemons' whole output goes to files (named in the message). */
function dumpLogs(rig: Rig): string {
  const files = { cluster: rig.cluster.output(), agent: rig.agent.output(), node: rig.node.output() };
  const names = Object.entries(files).map(([name, text]) => {
    const file = path.join(os.tmpdir(), `rotation-e2e-${name}.log`);
    writeFileSync(file, text);
    return file;
  });
  return `\nlogs: ${names.join(' ')}`;
}

/** `GET /v1/proxies` on the auth API with a client certificate: the HTTP status. */
function authApiStatus(authAddr: string, tls: { cert: string; key: string }): Promise<number> {
  const [host, port] = authAddr.split(':');
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port: Number(port), path: '/v1/proxies', method: 'GET', ...tls, rejectUnauthorized: false, servername: 'teleport.cluster.local' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A psql session through `tsh proxy db --tunnel`, opened once and kept: one query at a time. */
async function openSession(home: string): Promise<{ query(sql: string): Promise<string>; close(): void }> {
  const { port, child: tunnel } = await startLocalDbProxy(home);
  const session = openPsqlSession(psql.path!, `postgres://alice@127.0.0.1:${port}/alice?sslmode=disable`);
  return {
    query: (sql) => session.query(sql),
    close() {
      session.close();
      tunnel.kill('SIGKILL');
    },
  };
}

interface Rig {
  cluster: TestCluster;
  authAddr: string;
  target: PostgresServer;
  agent: RunningDaemon;
  node: RunningDaemon;
  /** A second node out of the traffic's path, paused (SIGSTOP) during each rotation so that it falls behind. */
  straggler: RunningDaemon;
  agentDir: string;
  tctl(args: string[]): ReturnType<typeof run>;
}

async function startAgents(cluster: TestCluster, tctl: Rig['tctl'], target: PostgresServer): Promise<{ agent: RunningDaemon; node: RunningDaemon; straggler: RunningDaemon; agentDir: string }> {
  const status = await tctl(['status', '--format=json']);
  const pin = (JSON.parse(status.stdout) as { cluster: { ca_pins: string[] } }).cluster.ca_pins[0]!;
  const dbToken = (JSON.parse((await tctl(['tokens', 'add', '--type=db', '--format=json'])).stdout) as { token: string }).token;
  const agentDir = path.join(cluster.dir, 'agent-data');
  const agentConfig = path.join(cluster.dir, 'agent.yaml');
  const teleport = [`  proxy_server: ${cluster.proxyAddr}`, `  auth_token: ${dbToken}`, `  ca_pin: ${pin}`];
  const services = roachService({ port: target.port, caFile: path.join(cluster.dir, 'roach-certs', 'ca.crt') });
  await writeFile(agentConfig, [...agentConfigLines({ name: 'rot-db', dataDir: agentDir, teleport, services }), ''].join('\n'));
  const agent = await startDaemon(['start', '-c', agentConfig]);
  const nodeToken = /--token=([0-9a-f]+)/.exec((await tctl(['tokens', 'add', '--type=node'])).stdout)![1]!;
  const nodeConfig = path.join(cluster.dir, 'node.yaml');
  await writeFile(nodeConfig, nodeConfigText('rot-node', path.join(cluster.dir, 'node-data')));
  const node = await startDaemon(['start', '-c', nodeConfig, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, `--token=${nodeToken}`]);
  const stragglerToken = /--token=([0-9a-f]+)/.exec((await tctl(['tokens', 'add', '--type=node'])).stdout)![1]!;
  const stragglerConfig = path.join(cluster.dir, 'straggler.yaml');
  await writeFile(stragglerConfig, nodeConfigText('rot-straggler', path.join(cluster.dir, 'straggler-data')));
  const straggler = await startDaemon(['start', '-c', stragglerConfig, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, `--token=${stragglerToken}`]);
  return { agent, node, straggler, agentDir };
}

function nodeConfigText(nodename: string, dataDir: string): string {
  return [...agentConfigLines({ name: nodename, dataDir, services: ['ssh_service:', '  enabled: yes'] }), ''].join('\n');
}

/** The loop of operations: login, a query through `tsh db connect`, `tsh ssh node echo`; every outcome counted. */
function startTraffic(rig: Rig, home: string) {
  const outcome = { ok: 0, failed: [] as string[], rounds: 0 };
  let stopping = false;
  const check = (what: string, res: { code: number; stdout: string; stderr: string }, expected: string) => {
    if (res.code === 0 && res.stdout.includes(expected)) outcome.ok++;
    else outcome.failed.push(`${what} (exit ${res.code}): ${(res.stderr || res.stdout).trim().split('\n').at(-1)}`);
  };
  const loop = (async () => {
    while (!stopping) {
      check('tsh login', await runTsh(home, ['login', `--proxy=${rig.cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` }), 'alice');
      check('tsh db connect', await runTsh(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'query-ok'\n" }), 'query-ok');
      check('tsh ssh', await runTsh(home, ['ssh', '--insecure', `${LOGIN}@rot-node`, 'echo', 'ssh-ok']), 'ssh-ok');
      outcome.rounds++;
    }
  })();
  return {
    outcome,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

/** `tctl auth rotate status` runs that failed (tctl is not in the loop's count; reported). */
const tctlFailures: string[] = [];

/** Runs one automatic rotation to standby, sampling `tctl auth rotate status`; phases with their times, lag seen. */
async function rotateUnderTraffic(rig: Rig, type: 'host' | 'user') {
  const started = Date.now();
  const res = await rig.tctl(['auth', 'rotate', `--type=${type}`, `--grace-period=${GRACE}`]);
  expect(res.code, res.stderr).toBe(0);
  const phases: { phase: string; atMs: number }[] = [];
  let stragglerListed = false;
  let laggingSeen = 0;
  let last = '';
  let paused = false;
  let resumed = false;
  const resume = () => {
    if (paused && !resumed) process.kill(rig.straggler.pid, 'SIGCONT');
    resumed = true;
  };
  await waitUntil(
    `the ${type} rotation to reach standby`,
    async () => {
      const st = await rig.tctl(['auth', 'rotate', 'status']);
      last = st.stdout + st.stderr;
      if (st.code !== 0) {
        tctlFailures.push(`${type}: ${st.stderr.trim()}`);
        return undefined;
      }
      const phase = new RegExp(`^${type}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(st.stdout)?.[2] ?? '?';
      if (phases.at(-1)?.phase !== phase) phases.push({ phase, atMs: Date.now() - started });
      // The straggler pauses once clients update, and resumes once the list shows it behind.
      if (phase === 'update_clients' && !paused) {
        process.kill(rig.straggler.pid, 'SIGSTOP');
        paused = true;
      }
      const lagging = /not yet on the current certificate authorities \((\d+) of/.exec(st.stdout);
      if (lagging) laggingSeen = Math.max(laggingSeen, Number(lagging[1]));
      if (paused && /rot-straggler/.test(st.stdout)) {
        stragglerListed = true;
        resume();
      }
      if (phase === 'standby') resume();
      return phase === 'standby' && phases.length > 1 ? true : undefined;
    },
    40_000,
    () => last,
  );
  const standbyAt = Date.now() - started;
  const allCaughtUp = await waitUntil(
    'every agent and proxy on the new CA',
    async () => {
      const st = await rig.tctl(['auth', 'rotate', 'status']);
      last = st.stdout;
      return /All (\d+) agents and proxies are on the current certificate authorities/.exec(st.stdout)?.[1];
    },
    15_000,
    () => `${last}${dumpLogs(rig)}\n--- auth+proxy:\n${rig.cluster.output().split('\n').filter((l) => /WARN|ERROR|renew|rotation/.test(l)).slice(-12).join('\n')}\n--- db agent:\n${rig.agent.output().split('\n').slice(-15).join('\n')}\n--- node:\n${rig.node.output().split('\n').filter((l) => /WARN|ERROR|renew|rotation/.test(l)).slice(0, 25).join('\n')}`,
  );
  return { phases, laggingSeen, stragglerListed, standbyAt, caughtUpAt: Date.now() - started, reporting: Number(allCaughtUp) };
}

describe.skipIf(postgres === undefined || !psql.available)('CA rotation under traffic', () => {
  let rig: Rig;
  beforeAll(async () => {
    const cluster = await startCluster({ secondFactor: 'off' });
    const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);
    const invite = await cluster.addUser('alice', ['--roles=access', '--db-users=*', '--db-names=*', `--logins=${LOGIN}`]);
    await completeInvite(invite, PASSWORD);
    const authAddr = /listen_addr: (127\.0\.0\.1:\d+)/.exec(await readFile(cluster.config, 'utf8'))![1]!;
    const target = await startCertDatabase(cluster.config, path.join(cluster.dir, 'roach-certs'));
    const { agent, node, straggler, agentDir } = await startAgents(cluster, tctl, target);
    rig = { cluster, authAddr, target, agent, node, straggler, agentDir, tctl };
  }, 120_000);
  afterAll(async () => {
    if (rig) process.kill(rig.straggler.pid, 'SIGCONT');
    await rig?.straggler.stop();
    await rig?.node.stop();
    await rig?.agent.stop();
    await rig?.target.destroy();
    await rig?.cluster.stop();
  });

  it('host then user CA rotation: zero failed operations, no restart, the lag listed then empty, old certificates refused', async () => {
    const oldHome = path.join(rig.cluster.dir, 'home-before');
    const loopHome = path.join(rig.cluster.dir, 'home-loop');
    for (const home of [oldHome, loopHome]) {
      const login = await runTsh(home, ['login', `--proxy=${rig.cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
      expect(login.code, login.stderr).toBe(0);
    }
    // Everyone reported once (proxy, db agent, two nodes) before the rotation starts.
    await waitUntil('four processes reporting', async () => ((await rig.tctl(['auth', 'rotate', 'status'])).stdout.includes('All 4 agents and proxies') ? true : undefined), 30_000);
    const before = await runTsh(oldHome, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'old-ok'\n" });
    expect(before.code, before.stderr).toBe(0);
    const oldAgentCert = { cert: await readFile(path.join(rig.agentDir, 'db', 'cert.pem'), 'utf8'), key: await readFile(path.join(rig.agentDir, 'db', 'key.pem'), 'utf8') };
    expect(await authApiStatus(rig.authAddr, oldAgentCert)).toBe(200);
    const session = await openSession(loopHome);
    const traffic = startTraffic(rig, loopHome);
    try {
      const host = await rotateUnderTraffic(rig, 'host');
      expect((await session.query("select 'session-after-host'")).trim()).toContain('session-after-host');
      const user = await rotateUnderTraffic(rig, 'user');
      expect((await session.query("select 'session-after-user'")).trim()).toContain('session-after-user');
      await traffic.stop();
      const o = traffic.outcome;
      console.log(`rotation under traffic: ${o.rounds} rounds, ${o.ok} operations ok, ${o.failed.length} failed`);
      for (const [name, r] of [['host', host], ['user', user]] as const) {
        console.log(`  ${name} CA (grace ${GRACE}): phases ${r.phases.map((p) => `${p.phase}@${(p.atMs / 1000).toFixed(1)}s`).join(' -> ')}; standby after ${(r.standbyAt / 1000).toFixed(1)} s, every process caught up after ${(r.caughtUpAt / 1000).toFixed(1)} s; most listed behind: ${r.laggingSeen} of 4`);
      }
      expect(o.failed).toEqual([]);
      expect(o.rounds).toBeGreaterThan(2);
      console.log(`  tctl auth rotate status failures while sampling: ${tctlFailures.length}${tctlFailures.length ? ` (${tctlFailures[0]})` : ''}`);
      for (const r of [host, user]) {
        expect(r.phases.map((p) => p.phase)).toContain('update_servers');
        expect(r.stragglerListed).toBe(true);
        expect(r.laggingSeen).toBeGreaterThan(0);
        expect(r.reporting).toBe(4);
      }
    } finally {
      await traffic.stop();
      session.close();
    }
    // Neither agent restarted: same processes, each started once, each renewed its identity in place.
    for (const d of [rig.agent, rig.node, rig.straggler]) {
      expect(() => process.kill(d.pid, 0)).not.toThrow();
      expect(d.output().split('press Ctrl-C to stop').length).toBe(2);
      expect(d.output()).toContain('host identity renewed');
    }
    // The old host certificate is refused by the auth API; the renewed one, written back to disk, is accepted.
    expect(await authApiStatus(rig.authAddr, oldAgentCert)).not.toBe(200);
    const renewed = { cert: await readFile(path.join(rig.agentDir, 'db', 'cert.pem'), 'utf8'), key: await readFile(path.join(rig.agentDir, 'db', 'key.pem'), 'utf8') };
    expect(renewed.cert).not.toBe(oldAgentCert.cert);
    expect(await authApiStatus(rig.authAddr, renewed)).toBe(200);
    // A profile from before the rotations (user certificate of the old user CA) is refused.
    const after = await runTsh(oldHome, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'old-ok'\n" });
    expect(after.code).not.toBe(0);
    expect(after.stdout).not.toContain('old-ok');
  }, 150_000);
});
