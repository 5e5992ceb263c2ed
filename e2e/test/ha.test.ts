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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPsqlSession,
  requirePostgres,
  requireTool,
  runProgram,
  runTshAt,
  startHaCluster,
  startLocalDbProxy,
  startPostgres,
  waitUntil,
  type HaCluster,
  type HaMember,
  type PostgresServer,
  type ProgramResult,
} from '@teleport-ts/testkit';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const haproxy = requireTool('haproxy', 'haproxy');

/** A long-running psql session through `tsh proxy db --tunnel` on a given home: one query at a time. */
interface Session {
  query(sql: string, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  close(): Promise<void>;
}

async function openSession(home: string): Promise<Session> {
  const { port, child: tunnel } = await startLocalDbProxy(home);
  const session = openPsqlSession(psql.path!, `postgres://alice@127.0.0.1:${port}/alice?sslmode=disable`);
  return {
    query: (sql, timeoutMs) => session.query(sql, timeoutMs),
    alive: () => session.alive(),
    async close() {
      session.close();
      tunnel.kill('SIGKILL');
    },
  };
}

/** The shared layout plus what these tests drive: tsh db connect and psql (through one local proxy) through haproxy. */
interface TestHaCluster extends HaCluster {
  memberDiags: string[];
  /** `tsh db connect roach` through haproxy running one query. */
  connectThroughLb(): Promise<ProgramResult>;
  /** A new psql connection through tsh's local proxy (started once, logged in through haproxy) running one query. */
  psqlThroughLb(): Promise<ProgramResult>;
}

async function startTestCluster(pg: PostgresServer, strategy: string[]): Promise<TestHaCluster> {
  const cluster = await startHaCluster({ backend: pg, strategy });
  const lbProxy = await startLocalDbProxy(cluster.lbHome);
  return {
    ...cluster,
    memberDiags: cluster.members.map((m) => m.diagAddr),
    connectThroughLb: () => runTshAt(cluster.lbHome, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'through-lb'\n" }),
    psqlThroughLb: () => runProgram(psql.path!, ['-X', '-A', '-t', '-c', "select 'through-lb'", `postgres://alice@127.0.0.1:${lbProxy.port}/alice?sslmode=disable&connect_timeout=5`]),
    async stop() {
      lbProxy.child.kill('SIGKILL');
      await cluster.stop();
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
async function reconnectTime(cluster: TestHaCluster, since: number): Promise<number> {
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
    let cluster: TestHaCluster;
    beforeAll(async () => {
      cluster = await startTestCluster(pg, []);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the agent, given only the haproxy address, holds a tunnel to each of the three proxies', async () => {
      const ids = cluster.members.map((m) => m.hostId).sort();
      await waitUntil('a tunnel to each proxy', () => (cluster.agentProxies().join(',') === ids.join(',') ? true : undefined), 30_000, cluster.agent.daemon.output);
      // The same seen in the metrics: one tunnel per proxy on the agent, one agent on each proxy.
      const tunnels = await metricLines(cluster.agent.diagAddr, 'teleport_reverse_tunnels{');
      expect(tunnels.sort()).toEqual(ids.map((id) => `teleport_reverse_tunnels{proxy="${id}"} 1`));
      for (const diag of cluster.memberDiags) expect(await metricLines(diag, 'teleport_proxy_connected_agents ')).toEqual(['teleport_proxy_connected_agents 1']);
      // Each proxy, dialed directly (no haproxy, no peering in a mesh), reaches the agent over its own tunnel.
      for (const home of cluster.memberHomes) {
        const res = await runTshAt(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: 'select current_user\n' });
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
    let cluster: TestHaCluster;
    beforeAll(async () => {
      cluster = await startTestCluster(pg, ['  tunnel_strategy:', '    type: proxy_peering', '    agent_connection_count: 1']);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the agent holds one tunnel; a session arriving at either other proxy is forwarded to it and works', async () => {
      const held = await waitUntil('one tunnel', () => (cluster.agentProxies().length === 1 ? cluster.agentProxies() : undefined), 30_000, cluster.agent.daemon.output);
      // It stays at one (the pool does not dial more).
      await new Promise((r) => setTimeout(r, 1_000));
      expect(cluster.agentProxies()).toEqual(held);
      const holder = cluster.members.find((m) => m.hostId === held[0])!;
      expect(holder).toBeDefined();
      for (const [i, home] of cluster.memberHomes.entries()) {
        const res = await runTshAt(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: `select 'via-${i}'\n` });
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
    let cluster: TestHaCluster;
    beforeAll(async () => {
      cluster = await startTestCluster(pg, ['  tunnel_strategy:', '    type: proxy_peering', '    agent_connection_count: 2']);
    }, 240_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('two tunnels; kill -9 of one of their proxies: connect again within 5 s, the agent back at two tunnels', async () => {
      const held = await waitUntil('two tunnels', () => (cluster.agentProxies().length === 2 ? cluster.agentProxies() : undefined), 30_000, cluster.agent.daemon.output);
      const [victim, survivor] = held.map((id) => cluster.members.find((m) => m.hostId === id)!) as [HaMember, HaMember];
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
        await waitUntil('two tunnels again', () => (cluster.agentProxies().sort().join() === [survivor.hostId, third.hostId].sort().join() ? true : undefined), 20_000, cluster.agent.daemon.output);
      } finally {
        await session.close();
      }
    }, 90_000);
  });
});
