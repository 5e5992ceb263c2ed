/**
 * The agent pool with real sockets: three proxies (each its own tunnel server and TLS listener with its own host
 * certificate) behind a round-robin TCP load balancer; the pool knows only the balancer's address and tells the
 * proxies apart by their certificates.
 */

import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import { newTunnelServer, type TunnelServer } from './server.js';
import { startTunnelPool, type TunnelPool, type TunnelPoolTarget } from './pool.js';
import type { TunnelAgentOptions } from './agent.js';
import { TUNNEL_CHANNEL, type TunnelDiagnostic } from './diagnostics.js';
import { dialProxy, makeTunnelPki, startProxyListener, startRoundRobin, type ProxyListener, type RoundRobin, type TunnelPki } from './testing.js';

const FAST_BACKOFF = { baseMs: 20, maxMs: 200 };

const echo: TunnelAgentOptions['onStream'] = (_meta, stream) => {
  stream.pipe(stream);
};

interface Proxy {
  id: string;
  tunnels: TunnelServer;
  listener: ProxyListener;
  /** Drops every tunnel and stops listening (a crash). */
  crash(): Promise<void>;
}

let pki: TunnelPki;
beforeAll(async () => {
  pki = await makeTunnelPki();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startProxy(): Promise<Proxy> {
  const credentials = await pki.issue('Proxy');
  const tunnels = newTunnelServer();
  const listener = await startProxyListener({ pki, tunnels, credentials });
  let down = false;
  const crash = async () => {
    if (down) return;
    down = true;
    await listener.close();
    await tunnels.close();
  };
  cleanups.push(crash);
  return { id: credentials.hostId, tunnels, listener, crash };
}

/** Which proxy answered, from the CN (`<host id>.<cluster>`) of its certificate. */
function proxyIdOf(socket: TLSSocket): string {
  return String(socket.getPeerCertificate().subject.CN).split('.')[0]!;
}

function startPool(lb: RoundRobin, target: () => TunnelPoolTarget, onChange?: (ids: readonly string[]) => void): TunnelPool {
  const connect = dialProxy(pki, () => lb.port);
  const pool = startTunnelPool({
    connect: async (signal) => {
      const socket = await connect(signal);
      return { socket, proxyId: proxyIdOf(socket) };
    },
    discover: () => Promise.resolve(target()),
    discoveryIntervalMs: 100,
    onStream: echo,
    backoff: FAST_BACKOFF,
    ...(onChange ? { onProxiesChanged: onChange } : {}),
  });
  cleanups.push(() => pool.close());
  return pool;
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function echoThrough(proxy: Proxy, text: string): Promise<string> {
  const stream = await proxy.tunnels.openStream(pki.agent.hostId, { service: 'echo' });
  stream.end(text);
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

describe('agent pool behind a load balancer', () => {
  it('agent mesh: reaches every listed proxy through the one address, and each proxy reaches the agent', async () => {
    const proxies = [await startProxy(), await startProxy(), await startProxy()];
    const lb = await startRoundRobin(() => proxies.map((p) => p.listener.port));
    cleanups.push(() => lb.close());
    const changes: string[][] = [];
    const pool = startPool(lb, () => ({ proxyIds: proxies.map((p) => p.id) }), (ids) => changes.push([...ids]));
    await pool.ready;
    const all = proxies.map((p) => p.id).sort();
    await until('a tunnel to each proxy', () => pool.connectedProxies().join(',') === all.join(','));
    expect(pool.state).toBe('connected');
    expect(changes.at(-1)).toEqual(all);
    for (const [i, proxy] of proxies.entries()) {
      expect(proxy.tunnels.hasAgent(pki.agent.hostId)).toBe(true);
      expect(await echoThrough(proxy, `hello ${i}`)).toBe(`hello ${i}`);
    }
  });

  it('proxy peering: keeps exactly agent_connection_count tunnels to distinct proxies', async () => {
    const proxies = [await startProxy(), await startProxy(), await startProxy()];
    const lb = await startRoundRobin(() => proxies.map((p) => p.listener.port));
    cleanups.push(() => lb.close());
    const pool = startPool(lb, () => ({ proxyIds: proxies.map((p) => p.id), connectionCount: 2 }));
    await until('two tunnels', () => pool.connectedProxies().length === 2);
    // Several discovery rounds later, still two, to two different proxies.
    await new Promise((r) => setTimeout(r, 500));
    const ids = pool.connectedProxies();
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    expect(proxies.filter((p) => p.tunnels.hasAgent(pki.agent.hostId)).map((p) => p.id).sort()).toEqual(ids);
  });

  it('a crashed proxy: its tunnel goes; with N=1 the agent dials the balancer again and reaches a live proxy', async () => {
    const proxies = [await startProxy(), await startProxy()];
    let live = [...proxies];
    const lb = await startRoundRobin(() => live.map((p) => p.listener.port));
    cleanups.push(() => lb.close());
    const pool = startPool(lb, () => ({ proxyIds: live.map((p) => p.id), connectionCount: 1 }));
    await until('one tunnel', () => pool.connectedProxies().length === 1);
    const holder = proxies.find((p) => p.id === pool.connectedProxies()[0])!;
    const other = proxies.find((p) => p !== holder)!;
    live = [other];
    const crashedAt = Date.now();
    await holder.crash();
    await until('a tunnel to the other proxy', () => pool.connectedProxies().join() === other.id);
    expect(Date.now() - crashedAt).toBeLessThan(2_000);
    expect(await echoThrough(other, 'again')).toBe('again');
  });

  it('a proxy that left the list (still running) has its tunnel dropped; a new proxy is reached', async () => {
    const proxies = [await startProxy(), await startProxy()];
    let listed = [...proxies];
    const lb = await startRoundRobin(() => listed.map((p) => p.listener.port));
    cleanups.push(() => lb.close());
    const pool = startPool(lb, () => ({ proxyIds: listed.map((p) => p.id) }));
    await until('two tunnels', () => pool.connectedProxies().length === 2);
    const [leaving, staying] = proxies as [Proxy, Proxy];
    const newcomer = await startProxy();
    listed = [staying, newcomer];
    await until('the new set', () => pool.connectedProxies().join(',') === [staying.id, newcomer.id].sort().join(','));
    await until('the leaving proxy to lose the agent', () => !leaving.tunnels.hasAgent(pki.agent.hostId));
  });

  it('with a listed proxy unreachable, dials back off instead of spinning on proxies already reached', async () => {
    const proxies = [await startProxy(), await startProxy()];
    const lb = await startRoundRobin(() => [proxies[0]!.listener.port]);
    cleanups.push(() => lb.close());
    let dials = 0;
    const connect = dialProxy(pki, () => lb.port);
    const pool = startTunnelPool({
      connect: async (signal) => {
        dials++;
        const socket = await connect(signal);
        return { socket, proxyId: proxyIdOf(socket) };
      },
      discover: () => Promise.resolve({ proxyIds: proxies.map((p) => p.id) }),
      onStream: echo,
      backoff: { baseMs: 100, maxMs: 400 },
    });
    cleanups.push(() => pool.close());
    await pool.ready;
    const before = dials;
    await new Promise((r) => setTimeout(r, 1_500));
    // 100-200, 200-400, then 200-400 ms apart: a handful, not hundreds.
    expect(dials - before).toBeLessThan(10);
    expect(pool.connectedProxies()).toEqual([proxies[0]!.id]);
  });
});

describe('renewing the tunnels (a new agent certificate)', () => {
  it('replaces each tunnel with a new one before the old stops taking streams; running streams and new ones never fail', async () => {
    const proxies = [await startProxy(), await startProxy()];
    const lb = await startRoundRobin(() => proxies.map((p) => p.listener.port));
    cleanups.push(() => lb.close());
    const changes: string[][] = [];
    const pool = startPool(lb, () => ({ proxyIds: proxies.map((p) => p.id) }), (ids) => changes.push([...ids]));
    const all = proxies.map((p) => p.id).sort();
    await until('a tunnel to each proxy', () => pool.connectedProxies().join(',') === all.join(','));
    changes.length = 0;
    // A stream that stays open across the renewal (a running session).
    const running = await proxies[0]!.tunnels.openStream(pki.agent.hostId, { service: 'echo' });
    running.write('before ');
    const connections = () => proxies.map((p) => p.tunnels.agents()[0]?.connections ?? 0);
    // New tunnels as the proxies see them.
    let newTunnels = 0;
    const onRecord = (record: unknown) => {
      const r = record as TunnelDiagnostic;
      if (r.event === 'connected' && r.side === 'proxy') newTunnels++;
    };
    diagnostics_channel.subscribe(TUNNEL_CHANNEL, onRecord);
    cleanups.push(async () => {
      diagnostics_channel.unsubscribe(TUNNEL_CHANNEL, onRecord);
    });
    pool.renew();
    let failures = 0;
    let calls = 0;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (newTunnels < 2 || calls < 10)) {
      for (const p of proxies) {
        calls++;
        await echoThrough(p, 'x').catch(() => failures++);
      }
    }
    // One new tunnel per proxy; the old one to proxy 0 stays for the running stream only.
    expect(newTunnels).toBe(2);
    // The old tunnel to proxy 1 had no stream: it goes once GOAWAY and the close went round (not at once).
    await until('the old tunnel without streams closed, the one with a running stream kept', () => connections().join() === '2,1');
    expect(failures).toBe(0);
    // The proxies stayed listed as connected all along.
    expect(changes).toEqual([]);
    running.end('after');
    let out = '';
    for await (const chunk of running) out += String(chunk);
    expect(out).toBe('before after');
    await until('one tunnel per proxy again', () => connections().join() === '1,1');
  });
});
