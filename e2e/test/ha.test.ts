/**
 * High availability end to end, with the built programs: three `teleport-ts start` processes (auth + proxy each)
 * on one PostgreSQL backend behind haproxy in TCP mode (as the seed's NLB), a db agent given only the haproxy
 * address (`teleport.proxy_server`), users logged in through haproxy. Both tunnel strategies:
 * - agent mesh: the agent holds a tunnel to every proxy, found by dialing haproxy until each has answered;
 * - proxy peering (agent_connection_count 1): the agent holds one tunnel, and a session arriving at another proxy
 *   is forwarded to the proxy that has it over mutual TLS on peer_listen_addr.
 * `kill -9` of a process: a new connection through haproxy (psql through tsh's local proxy, the client code of
 * `tsh db connect`) works again within 5 s, `tsh db connect roach` right after, and psql sessions running through
 * the other proxies keep answering.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePostgres, requireTool, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, freePort, runTsh } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const haproxy = requireTool('haproxy', 'haproxy');
const PASSWORD = 'correct horse battery staple';
const CLUSTER = 'ha.example.com';

/** A daemon child process with its output; `kill9` is `kill -9`. */
interface Daemon {
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

function spawnDaemon(args: string[]): Daemon {
  const child = spawn(bin('teleport-ts'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One auth+proxy process of the cluster. */
interface Member {
  index: number;
  config: string;
  dataDir: string;
  proxyAddr: string;
  hostId: string;
  daemon: Daemon;
}

/** A long-running psql session through `tsh proxy db --tunnel` on a given home: one query at a time. */
interface Session {
  query(sql: string, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  close(): Promise<void>;
}

/** `tsh proxy db --tunnel` (tsh's local proxy, the code `tsh db connect` uses) for `home`'s proxy; its port. */
async function startLocalProxy(home: string): Promise<{ port: string; child: ChildProcess }> {
  const child = spawn(bin('tsh'), ['proxy', 'db', '--insecure', '--tunnel', '--db-user=alice', 'roach'], {
    env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let banner = '';
  child.stdout!.on('data', (b: Buffer) => (banner += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (banner += b.toString()));
  const port = await waitUntil('tsh proxy db', () => /on 127\.0\.0\.1:(\d+)\./.exec(banner)?.[1], 20_000, () => banner);
  return { port, child };
}

async function openSession(home: string): Promise<Session> {
  const { port, child: tunnel } = await startLocalProxy(home);
  const client = spawn(psql.path!, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0', `postgres://alice@127.0.0.1:${port}/alice?sslmode=disable`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  client.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  client.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  client.stdin!.on('error', () => undefined);
  let n = 0;
  return {
    async query(sql, timeoutMs = 10_000) {
      const marker = `done-${++n}`;
      client.stdin!.write(`${sql};\nselect '${marker}';\n`);
      await waitUntil(`psql answer ${marker}`, () => (out.includes(marker) || client.exitCode !== null ? true : undefined), timeoutMs, () => out);
      const text = out;
      out = '';
      return text;
    },
    alive: () => client.exitCode === null,
    async close() {
      client.stdin!.end();
      client.kill('SIGKILL');
      tunnel.kill('SIGKILL');
    },
  };
}

interface HaCluster {
  dir: string;
  members: Member[];
  lbAddr: string;
  agent: Daemon & { diagAddr: string };
  /** TELEPORT_HOME logged in through haproxy, and one per proxy (logged in directly at it). */
  lbHome: string;
  memberHomes: string[];
  /** `host:port` of each member's diag endpoint. */
  memberDiags: string[];
  /** The proxies the agent reports holding tunnels to (its last log line about it). */
  agentProxies(): string[];
  /** `tsh db connect roach` through haproxy running one query. */
  connectThroughLb(): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A new psql connection through tsh's local proxy (started once, logged in through haproxy) running one query. */
  psqlThroughLb(): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function memberConfig(o: { dir: string; index: number; backend: string; audit: string; ports: Record<'auth' | 'proxy' | 'diag' | 'peer', number>; lbAddr: string; strategy: string[] }): string {
  return [
    'version: v3',
    'teleport:',
    `  nodename: ha-${o.index}`,
    `  data_dir: ${path.join(o.dir, `data-${o.index}`)}`,
    `  diag_addr: 127.0.0.1:${o.ports.diag}`,
    '  storage:',
    '    type: postgres',
    `    conn_string: ${o.backend}`,
    `    audit_events_uri: ['${o.audit}']`,
    'auth_service:',
    '  enabled: yes',
    `  listen_addr: 127.0.0.1:${o.ports.auth}`,
    `  cluster_name: ${CLUSTER}`,
    '  authentication:',
    '    second_factor: off',
    ...o.strategy,
    'proxy_service:',
    '  enabled: yes',
    `  web_listen_addr: 127.0.0.1:${o.ports.proxy}`,
    `  public_addr: ${o.lbAddr}`,
    `  peer_listen_addr: 127.0.0.1:${o.ports.peer}`,
    '',
  ].join('\n');
}

/** haproxy in TCP mode, round robin, health-checked on each process's /readyz, redispatching a refused connection. */
function haproxyConfig(lbPort: number, members: { proxy: number; diag: number }[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode tcp',
    '  timeout connect 1s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 1s',
    '  retries 3',
    '  option redispatch 1',
    'listen teleport',
    `  bind 127.0.0.1:${lbPort}`,
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  default-server inter 500ms fall 2 rise 2',
    ...members.map((m, i) => `  server p${i} 127.0.0.1:${m.proxy} check port ${m.diag}`),
    '',
  ].join('\n');
}

async function startMembers(dir: string, pg: PostgresServer, lbAddr: string, strategy: string[]): Promise<{ members: Member[]; ports: { proxy: number; diag: number }[] }> {
  // Each process's diag port also serves haproxy's health check.
  const db = `teleport_${path.basename(dir).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
  await pg.createDatabase(db);
  await pg.createDatabase(`${db}_audit`);
  const members: Member[] = [];
  const allPorts: { proxy: number; diag: number }[] = [];
  // One after the other: the first creates the cluster (CAs), the others find it in the backend.
  for (let index = 0; index < 3; index++) {
    const ports = { auth: await freePort(), proxy: await freePort(), diag: await freePort(), peer: await freePort() };
    allPorts.push(ports);
    const config = path.join(dir, `teleport-${index}.yaml`);
    const backend = pg.url(db, { sslmode: 'disable' });
    const audit = pg.url(`${db}_audit`, { sslmode: 'disable' });
    await writeFile(config, memberConfig({ dir, index, backend, audit, ports, lbAddr, strategy }));
    const daemon = spawnDaemon(['start', '-c', config]);
    await waitUntil(`process ${index} to start`, () => (daemon.output().includes('press Ctrl-C to stop') ? true : undefined), 60_000, daemon.output);
    const dataDir = path.join(dir, `data-${index}`);
    const hostId = (await readFile(path.join(dataDir, 'host_uuid'), 'utf8')).trim();
    members.push({ index, config, dataDir, proxyAddr: `127.0.0.1:${ports.proxy}`, hostId, daemon });
  }
  return { members, ports: allPorts };
}

async function login(home: string, proxyAddr: string): Promise<void> {
  const res = await runTsh(home, ['login', `--proxy=${proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
  if (res.code !== 0) throw new Error(`tsh login --proxy=${proxyAddr} failed: ${res.stderr}`);
}

/** The database the agent serves: a real PostgreSQL with client-certificate auth and certificates from tctl. */
async function startTargetDatabase(dir: string, tctlConfig: string): Promise<PostgresServer> {
  const certs = path.join(dir, 'roach-certs');
  const signed = await run(bin('tctl'), ['-c', tctlConfig, 'auth', 'sign', '--format=cockroachdb', '--host=localhost', `--out=${certs}`]);
  if (signed.code !== 0) throw new Error(signed.stderr);
  const target = await startPostgres({
    tls: { certFile: path.join(certs, 'node.crt'), keyFile: path.join(certs, 'node.key'), caFile: path.join(certs, 'ca-client.crt') },
    hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert'],
  });
  await target.query('CREATE ROLE alice LOGIN');
  await target.createDatabase('alice');
  return target;
}

async function startAgent(dir: string, tctlConfig: string, lbAddr: string, target: PostgresServer): Promise<Daemon & { diagAddr: string }> {
  const diagAddr = `127.0.0.1:${await freePort()}`;
  const tokenOut = await run(bin('tctl'), ['-c', tctlConfig, 'tokens', 'add', '--type=db', '--format=json']);
  if (tokenOut.code !== 0) throw new Error(tokenOut.stderr);
  const token = (JSON.parse(tokenOut.stdout) as { token: string }).token;
  const status = await run(bin('tctl'), ['-c', tctlConfig, 'status', '--format=json']);
  const pin = (JSON.parse(status.stdout) as { cluster: { ca_pins: string[] } }).cluster.ca_pins[0]!;
  const config = path.join(dir, 'agent.yaml');
  await writeFile(
    config,
    [
      'version: v3',
      'teleport:',
      '  nodename: db-agent',
      `  data_dir: ${path.join(dir, 'agent-data')}`,
      `  proxy_server: ${lbAddr}`,
      `  diag_addr: ${diagAddr}`,
      `  auth_token: ${token}`,
      `  ca_pin: ${pin}`,
      'auth_service:',
      '  enabled: no',
      'proxy_service:',
      '  enabled: no',
      'db_service:',
      '  enabled: yes',
      '  databases:',
      '  - name: roach',
      '    protocol: cockroachdb',
      `    uri: localhost:${target.port}`,
      '    tls:',
      `      ca_cert_file: ${path.join(dir, 'roach-certs', 'ca.crt')}`,
      '',
    ].join('\n'),
  );
  const agent = spawnDaemon(['start', '-c', config]);
  await waitUntil('the agent to start', () => (agent.output().includes('press Ctrl-C to stop') ? true : undefined), 60_000, agent.output);
  return { ...agent, diagAddr };
}

async function startHaCluster(pg: PostgresServer, strategy: string[]): Promise<HaCluster & { target: PostgresServer; lb: ChildProcess }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-ha-'));
  const lbPort = await freePort();
  const lbAddr = `127.0.0.1:${lbPort}`;
  const { members, ports } = await startMembers(dir, pg, lbAddr, strategy);
  const memberDiags = ports.map((p) => `127.0.0.1:${p.diag}`);
  const lbConfig = path.join(dir, 'haproxy.cfg');
  await writeFile(lbConfig, haproxyConfig(lbPort, ports));
  const lb = spawn(haproxy.path!, ['-f', lbConfig, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let lbOut = '';
  lb.stdout!.on('data', (b: Buffer) => (lbOut += b.toString()));
  lb.stderr!.on('data', (b: Buffer) => (lbOut += b.toString()));
  const first = members[0]!;
  // Users and agents come in through haproxy once it routes.
  const invite = await run(bin('tctl'), ['-c', first.config, 'users', 'add', 'alice', '--roles=access', '--db-users=*', '--db-names=*']);
  const url = /https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(invite.stdout)?.[0];
  if (url === undefined) throw new Error(`no invite in ${invite.stdout}${invite.stderr}`);
  expect(url).toContain(lbAddr);
  await waitUntil('haproxy', async () => completeInvite(url, PASSWORD).then(() => true, () => undefined), 20_000, () => lbOut);
  const lbHome = path.join(dir, 'home-lb');
  await login(lbHome, lbAddr);
  const memberHomes = members.map((m) => path.join(dir, `home-${m.index}`));
  for (const [i, m] of members.entries()) await login(memberHomes[i]!, m.proxyAddr);
  const target = await startTargetDatabase(dir, first.config);
  const agent = await startAgent(dir, first.config, lbAddr, target);
  const lbProxy = await startLocalProxy(lbHome);
  return {
    dir,
    members,
    lbAddr,
    agent,
    lb,
    target,
    lbHome,
    memberHomes,
    memberDiags,
    agentProxies: () => {
      const all = [...agent.output().matchAll(/reverse tunnels are up proxies:(\S*)/g)];
      return (all.at(-1)?.[1] ?? '').split(',').filter((s) => s !== '');
    },
    connectThroughLb: () => runTsh(lbHome, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'through-lb'\n" }),
    psqlThroughLb: () => run(psql.path!, ['-X', '-A', '-t', '-c', "select 'through-lb'", `postgres://alice@127.0.0.1:${lbProxy.port}/alice?sslmode=disable&connect_timeout=5`]),
    async stop() {
      lbProxy.child.kill('SIGKILL');
      await agent.stop();
      for (const m of members) await m.daemon.stop();
      lb.kill('SIGKILL');
      await target.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One gauge from a `/metrics` page: `name{labels} value` lines whose name and labels start with `prefix`. */
async function metricLines(diagAddr: string, prefix: string): Promise<string[]> {
  const text = await (await fetch(`http://${diagAddr}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

/**
 * Connects through haproxy (a new psql connection through tsh's local proxy, the client code of `tsh db connect`)
 * until it works; the time it took from `since`. Then `tsh db connect` itself must work through haproxy.
 */
async function reconnectTime(cluster: HaCluster, since: number): Promise<number> {
  for (;;) {
    const res = await cluster.psqlThroughLb();
    if (res.code === 0 && res.stdout.includes('through-lb')) {
      const took = Date.now() - since;
      const tsh = await cluster.connectThroughLb();
      expect(tsh.code, tsh.stderr).toBe(0);
      expect(tsh.stdout).toContain('through-lb');
      console.log(`  and tsh db connect through haproxy worked ${Date.now() - since} ms after the kill (the command alone takes 1.5-3 s here)`);
      return took;
    }
    const last = res.stderr + res.stdout;
    console.log(`a connection through haproxy failed ${Date.now() - since} ms after the kill: ${last.trim().split('\n').at(-1)}`);
    if (Date.now() - since > 30_000) throw new Error(`no connection through haproxy worked again: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(postgres === undefined || !psql.available || !haproxy.available)('three auth+proxy processes on one PostgreSQL behind haproxy', () => {
  let pg: PostgresServer;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  describe('agent mesh (the default tunnel strategy)', () => {
    let cluster: Awaited<ReturnType<typeof startHaCluster>>;
    beforeAll(async () => {
      cluster = await startHaCluster(pg, []);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the agent, given only the haproxy address, holds a tunnel to each of the three proxies', async () => {
      const ids = cluster.members.map((m) => m.hostId).sort();
      await waitUntil('a tunnel to each proxy', () => (cluster.agentProxies().join(',') === ids.join(',') ? true : undefined), 30_000, cluster.agent.output);
      // The same seen in the metrics: one tunnel per proxy on the agent, one agent on each proxy.
      const tunnels = await metricLines(cluster.agent.diagAddr, 'teleport_reverse_tunnels{');
      expect(tunnels.sort()).toEqual(ids.map((id) => `teleport_reverse_tunnels{proxy="${id}"} 1`));
      for (const diag of cluster.memberDiags) expect(await metricLines(diag, 'teleport_proxy_connected_agents ')).toEqual(['teleport_proxy_connected_agents 1']);
      // Each proxy, dialed directly (no haproxy, no peering in a mesh), reaches the agent over its own tunnel.
      for (const home of cluster.memberHomes) {
        const res = await runTsh(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: 'select current_user\n' });
        expect(res.code, res.stderr).toBe(0);
        expect(res.stdout).toContain('alice');
      }
    });

    it('kill -9 of one process: a connection through haproxy works again within 5 s (then tsh db connect), sessions through the others continue', async () => {
      const sessions = await Promise.all(cluster.memberHomes.map((home) => openSession(home)));
      try {
        for (const s of sessions) expect(await s.query("select 'before'")).toContain('before');
        const baseline = Date.now();
        expect((await cluster.psqlThroughLb()).code).toBe(0);
        console.log(`agent mesh: one new connection through haproxy takes ${Date.now() - baseline} ms with every process up`);
        const victim = cluster.members[0]!;
        const killedAt = Date.now();
        await victim.daemon.kill9();
        const took = await reconnectTime(cluster, killedAt);
        console.log(`agent mesh: a new connection through haproxy worked again ${took} ms after kill -9 of process 0`);
        expect(took).toBeLessThan(5_000);
        for (const s of sessions.slice(1)) {
          expect(await s.query("select 'after'")).toContain('after');
          expect(s.alive()).toBe(true);
        }
        // The agent drops the dead proxy's tunnel and keeps the two others.
        expect(cluster.agentProxies().sort()).toEqual(cluster.members.slice(1).map((m) => m.hostId).sort());
      } finally {
        for (const s of sessions) await s.close();
      }
    }, 90_000);
  });

  describe('proxy peering with agent_connection_count 1', () => {
    let cluster: Awaited<ReturnType<typeof startHaCluster>>;
    beforeAll(async () => {
      cluster = await startHaCluster(pg, ['  tunnel_strategy:', '    type: proxy_peering', '    agent_connection_count: 1']);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the agent holds one tunnel; a session arriving at either other proxy is forwarded to it and works', async () => {
      const held = await waitUntil('one tunnel', () => (cluster.agentProxies().length === 1 ? cluster.agentProxies() : undefined), 30_000, cluster.agent.output);
      // It stays at one (the pool does not dial more).
      await new Promise((r) => setTimeout(r, 1_000));
      expect(cluster.agentProxies()).toEqual(held);
      const holder = cluster.members.find((m) => m.hostId === held[0])!;
      expect(holder).toBeDefined();
      for (const [i, home] of cluster.memberHomes.entries()) {
        const res = await runTsh(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: `select 'via-${i}'\n` });
        expect(res.code, `${res.stderr}\n${cluster.members[i]!.daemon.output().slice(-2000)}`).toBe(0);
        expect(res.stdout).toContain(`via-${i}`);
      }
    });

    it('kill -9 of a process without the tunnel, then of the one with it: a connection through haproxy works again within 5 s each time', async () => {
      const holderId = cluster.agentProxies()[0]!;
      const holder = cluster.members.find((m) => m.hostId === holderId)!;
      const others = cluster.members.filter((m) => m !== holder);
      const sessions = await Promise.all(cluster.members.map((m) => openSession(cluster.memberHomes[m.index]!)));
      try {
        for (const s of sessions) expect(await s.query("select 'before'")).toContain('before');
        const baseline = Date.now();
        expect((await cluster.psqlThroughLb()).code).toBe(0);
        console.log(`proxy peering: one new connection through haproxy takes ${Date.now() - baseline} ms with every process up`);
        // A proxy without the agent's tunnel dies: the sessions through the two others (one forwarded) continue.
        const first = others[0]!;
        let killedAt = Date.now();
        await first.daemon.kill9();
        let took = await reconnectTime(cluster, killedAt);
        console.log(`proxy peering: a new connection through haproxy worked again ${took} ms after kill -9 of a proxy without the tunnel`);
        expect(took).toBeLessThan(5_000);
        for (const m of [holder, others[1]!]) expect(await sessions[m.index]!.query("select 'after'")).toContain('after');
        // The proxy holding the agent's only tunnel dies: the agent dials haproxy again and reaches the last one.
        killedAt = Date.now();
        await holder.daemon.kill9();
        took = await reconnectTime(cluster, killedAt);
        console.log(`proxy peering: a new connection through haproxy worked again ${took} ms after kill -9 of the proxy holding the tunnel`);
        expect(took).toBeLessThan(5_000);
        expect(cluster.agentProxies()).toEqual([others[1]!.hostId]);
      } finally {
        for (const s of sessions) await s.close();
      }
    }, 90_000);
  });

  describe('proxy peering with agent_connection_count 2 (the seed\'s setting)', () => {
    let cluster: Awaited<ReturnType<typeof startHaCluster>>;
    beforeAll(async () => {
      cluster = await startHaCluster(pg, ['  tunnel_strategy:', '    type: proxy_peering', '    agent_connection_count: 2']);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('two tunnels; kill -9 of one of their proxies: connect again within 5 s, the agent back at two tunnels', async () => {
      const held = await waitUntil('two tunnels', () => (cluster.agentProxies().length === 2 ? cluster.agentProxies() : undefined), 30_000, cluster.agent.output);
      const [victim, survivor] = held.map((id) => cluster.members.find((m) => m.hostId === id)!) as [Member, Member];
      const third = cluster.members.find((m) => !held.includes(m.hostId))!;
      const session = await openSession(cluster.memberHomes[survivor.index]!);
      try {
        expect(await session.query("select 'before'")).toContain('before');
        const killedAt = Date.now();
        await victim.daemon.kill9();
        const took = await reconnectTime(cluster, killedAt);
        console.log(`proxy peering (N=2): a new connection through haproxy worked again ${took} ms after kill -9 of a proxy holding a tunnel`);
        expect(took).toBeLessThan(5_000);
        expect(await session.query("select 'after'")).toContain('after');
        await waitUntil('two tunnels again', () => (cluster.agentProxies().sort().join() === [survivor.hostId, third.hostId].sort().join() ? true : undefined), 20_000, cluster.agent.output);
      } finally {
        await session.close();
      }
    }, 90_000);
  });
});
