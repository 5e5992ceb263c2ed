/**
 * An agent learns the proxies from their heartbeats on the auth server's watch, not by polling: a proxy started after
 * the agent is dialed within about 2 s, although the agent's fallback poll is minutes away.
 */

import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WATCHED_DISCOVERY_INTERVAL_MS } from '../src/roles/agent-tunnels.js';
import type { DatabaseService } from '../src/roles/db/index.js';
import { startProxyRole, type ProxyService } from '../src/roles/proxy/index.js';
import { startDbTestCluster, testLogger, waitFor, type DbTestCluster } from './db-helpers.js';

/** A TCP load balancer over real sockets: each connection goes to the next target, round robin. */
function startBalancer(targets: number[]): Promise<{ server: Server; port: number }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const port = targets[next++ % targets.length]!;
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

describe('proxy discovery from the auth server watch', () => {
  let cluster: DbTestCluster;
  let balancer: { server: Server; port: number };
  const targets: number[] = [];
  let agent: DatabaseService;
  let second: ProxyService | undefined;

  beforeAll(async () => {
    cluster = await startDbTestCluster();
    targets.push(cluster.proxyPort);
    balancer = await startBalancer(targets);
    agent = await cluster.startAgent('agent-1', [{ name: 'unused', protocol: 'postgres', uri: '127.0.0.1:1' }], { proxyAddr: `127.0.0.1:${balancer.port}` });
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await second?.close();
    balancer?.server.close();
    await cluster?.close();
  });

  it('dials a proxy that starts after the agent within about 2 s, with the fallback poll minutes away', async () => {
    expect(WATCHED_DISCOVERY_INTERVAL_MS).toBeGreaterThanOrEqual(60_000);
    await waitFor(() => (agent.connectedProxies().length === 1 ? true : undefined), 'the first tunnel');
    second = await startProxyRole({
      dataDir: path.join(cluster.dataDir, 'proxy-2'),
      nodename: 'proxy-two',
      proxy: { listenAddr: '127.0.0.1:0', publicAddrs: [] },
      // A proxy alone (its own host), joining with a token.
      join: { token: (await cluster.t.admin.createToken({ roles: ['Proxy'], ttl: 3_600_000 })).metadata.name, authServer: cluster.t.auth.dialAddr, caPins: await cluster.caPins() },
      clock: cluster.proxyClock,
      logger: testLogger('proxy-2'),
    });
    targets.push(Number(second.addr.split(':').pop()));
    const started = performance.now();
    await waitFor(() => (agent.connectedProxies().length === 2 ? true : undefined), 'a tunnel to the second proxy', 10_000);
    const took = performance.now() - started;
    console.log(`the second proxy was reached ${Math.round(took)} ms after it started`);
    expect(took).toBeLessThan(3_000);

    // It leaves (its heartbeat is removed on close): the tunnel to it is dropped, the other stays.
    const gone = second;
    second = undefined;
    targets.pop();
    await gone.close();
    await waitFor(() => (agent.connectedProxies().length === 1 ? true : undefined), 'the tunnel to the stopped proxy gone', 10_000);
  }, 60_000);
});
