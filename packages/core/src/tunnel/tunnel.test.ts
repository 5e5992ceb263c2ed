/**
 * The reverse tunnel over real TLS sockets on 127.0.0.1, with host certificates issued at test time: concurrency
 * and byte-exactness, backpressure, refusal, reconnect across a proxy restart, dead-agent detection (FIN and
 * silence), and a throughput figure.
 */

import { createHash, randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { connect as connectNet, createServer as createNetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, isTeleportError } from '../errors/index.js';
import { startTunnelAgent, type TunnelAgent, type TunnelAgentOptions } from './agent.js';
import { TUNNEL_CHANNEL, type TunnelDiagnostic } from './diagnostics.js';
import { newTunnelServer, type TunnelAgentInfo, type TunnelServer, type TunnelServerOptions } from './server.js';
import { dialProxy, makeTunnelPki, startProxyListener, startRelay, type ProxyListener, type TunnelPki } from './testing.js';
import { TUNNEL_ERROR_CODES, type TunnelStreamMeta } from './wire.js';

const MiB = 1024 * 1024;
const FAST_BACKOFF = { baseMs: 20, maxMs: 200 };

let pki: TunnelPki;
beforeAll(async () => {
  pki = await makeTunnelPki();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes `data` in 64 KiB chunks honouring backpressure, then ends; resolves with everything read meanwhile. */
async function exchange(stream: Duplex, data: Buffer): Promise<Buffer> {
  const received: Buffer[] = [];
  stream.on('data', (d: Buffer) => received.push(d));
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('stream closed before its end')));
  });
  ended.catch(() => undefined);
  for (let pos = 0; pos < data.length; pos += 64 * 1024) {
    if (!stream.write(data.subarray(pos, pos + 64 * 1024))) await once(stream, 'drain');
  }
  stream.end();
  await ended;
  return Buffer.concat(received);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `onStream` that echoes every byte back and ends when the proxy ends. */
const echo: TunnelAgentOptions['onStream'] = (_meta, stream) => {
  stream.pipe(stream);
};

interface World {
  tunnels: TunnelServer;
  listener: ProxyListener;
  agent: TunnelAgent;
  agentId: string;
  gone: TunnelAgentInfo[];
  sockets: TLSSocket[];
}

async function startWorld(
  options: {
    onStream?: TunnelAgentOptions['onStream'];
    server?: TunnelServerOptions;
    agent?: Partial<TunnelAgentOptions>;
    port?: () => number;
    beforeAgent?: (listener: ProxyListener) => void;
  } = {},
): Promise<World> {
  const gone: TunnelAgentInfo[] = [];
  const tunnels = newTunnelServer({ ...options.server, onAgentGone: (a) => gone.push(a) });
  const listener = await startProxyListener({ pki, tunnels });
  options.beforeAgent?.(listener);
  const sockets: TLSSocket[] = [];
  const agent = startTunnelAgent({
    connect: dialProxy(pki, options.port ?? (() => listener.port), (s) => sockets.push(s)),
    onStream: options.onStream ?? echo,
    backoff: FAST_BACKOFF,
    ...options.agent,
  });
  cleanups.push(
    () => agent.close(),
    () => tunnels.close(),
    () => listener.close(),
  );
  await agent.ready;
  await waitFor(() => tunnels.hasAgent(pki.agent.hostId), 5_000, 'the proxy to list the agent');
  return { tunnels, listener, agent, agentId: pki.agent.hostId, gone, sockets };
}

describe('reverse tunnel', () => {
  it('lists a connected agent by the host UUID from its certificate', async () => {
    const seen: TunnelAgentInfo[] = [];
    const world = await startWorld({ server: { onAgent: (a) => seen.push(a) } });
    expect(world.agent.state).toBe('connected');
    expect(seen).toEqual([expect.objectContaining({ id: pki.agent.hostId, connections: 1 })]);
    expect(seen[0]!.identity).toEqual({ hostId: pki.agent.hostId, clusterName: pki.clusterName, systemRoles: ['Db'] });
    expect(world.tunnels.agents().map((a) => a.id)).toEqual([pki.agent.hostId]);
  });

  // Also the regression test for the mutual write deadlock of Node's HTTP/2 over a native socket (see index.ts).
  it('carries 16 concurrent streams echoing 4 MiB each way byte-exactly, with each stream’s metadata', async () => {
    const metas: TunnelStreamMeta[] = [];
    const world = await startWorld({
      onStream: (meta, stream) => {
        metas.push(meta);
        stream.pipe(stream);
      },
    });
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const meta = { service: `db-${i}`, protocol: 'postgres', identity: { user: 'alice', roles: ['access'], unicode: 'ünï ✓' } };
        const stream = await world.tunnels.openStream(world.agentId, meta);
        const data = randomBytes(4 * MiB);
        const back = await exchange(stream, data);
        return { sent: sha256(data), received: sha256(back), length: back.length };
      }),
    );
    for (const r of results) expect(r).toEqual({ sent: r.sent, received: r.sent, length: 4 * MiB });
    expect(metas.map((m) => m.service).sort()).toEqual(Array.from({ length: 16 }, (_, i) => `db-${i}`).sort());
    expect(metas[0]).toMatchObject({ protocol: 'postgres', identity: { user: 'alice', roles: ['access'], unicode: 'ünï ✓' } });
  });

  it('spreads streams over the tunnels of an agent’s processes (least open streams), one process’s newest tunnel each', async () => {
    const served: string[] = [];
    const onStream = (name: string): TunnelAgentOptions['onStream'] => (_meta, stream) => {
      served.push(name);
      stream.pipe(stream);
    };
    const world = await startWorld({ onStream: onStream('first'), agent: { instance: 'worker-1' } });
    // A second process of the same agent (same host certificate), as `db_service.workers` starts.
    const second = startTunnelAgent({ connect: dialProxy(pki, () => world.listener.port), onStream: onStream('second'), backoff: FAST_BACKOFF, instance: 'worker-2' });
    cleanups.push(() => second.close());
    await second.ready;
    await waitFor(() => world.tunnels.agents()[0]?.connections === 2, 5_000, 'two tunnels');
    const streams = await Promise.all(Array.from({ length: 8 }, () => world.tunnels.openStream(world.agentId, { service: 'db', protocol: 'postgres' })));
    await waitFor(() => served.length === 8, 5_000, 'the agents to take the streams');
    expect(served.filter((n) => n === 'first')).toHaveLength(4);
    expect(served.filter((n) => n === 'second')).toHaveLength(4);
    for (const stream of streams) stream.destroy();
  });

  it('keeps half-close semantics: the agent can answer after the proxy ended its side', async () => {
    const world = await startWorld({
      onStream: (_meta, stream) => {
        const chunks: Buffer[] = [];
        stream.on('data', (d: Buffer) => chunks.push(d));
        stream.once('end', () => setTimeout(() => stream.end(`got ${Buffer.concat(chunks).length} bytes`), 50));
      },
    });
    const stream = await world.tunnels.openStream(world.agentId, { service: 'request-response' });
    const reply = await exchange(stream, Buffer.alloc(100_000, 1));
    expect(reply.toString()).toBe('got 100000 bytes');
  });

  it('does not delay small messages: 200 one-byte round trips (Nagle is off on the tunnel socket)', async () => {
    const world = await startWorld();
    const stream = await world.tunnels.openStream(world.agentId, { service: 'ping-pong' });
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      const reply = once(stream, 'data');
      stream.write(Buffer.from([i & 0xff]));
      const [chunk] = (await reply) as [Buffer];
      expect(chunk[0]).toBe(i & 0xff);
    }
    const perRoundTripMs = (performance.now() - started) / 200;
    stream.end();
    console.log(`latency: ${perRoundTripMs.toFixed(2)} ms per round trip through the tunnel`);
    // Nagle + delayed ACK would cost ~40 ms per round trip; this bound only catches that.
    expect(perRoundTripMs).toBeLessThan(20);
  });

  describe('backpressure', () => {
    it('a slow proxy-side reader makes the agent’s write() return false, and buffering stays bounded', async () => {
      const total = 64 * MiB;
      const writer = { handedToWrite: 0, atFirstFalse: -1, drains: 0, done: false };
      const world = await startWorld({
        onStream: (_meta, stream) => {
          const chunk = Buffer.alloc(64 * 1024, 7);
          const pump = () => {
            while (writer.handedToWrite < total) {
              writer.handedToWrite += chunk.length;
              if (!stream.write(chunk)) {
                if (writer.atFirstFalse < 0) writer.atFirstFalse = writer.handedToWrite;
                stream.once('drain', () => {
                  writer.drains++;
                  pump();
                });
                return;
              }
            }
            writer.done = true;
            stream.end();
          };
          pump();
        },
      });
      const stream = await world.tunnels.openStream(world.agentId, { service: 'firehose' });
      // Nobody reads for a while.
      await new Promise((r) => setTimeout(r, 500));
      const stalledAt = writer.handedToWrite;
      expect(writer.atFirstFalse).toBeGreaterThan(0);
      expect(writer.done).toBe(false);
      // Stream window (1 MiB) + Node's buffers on both ends: a few MiB, not 64.
      expect(stalledAt).toBeLessThan(4 * MiB);
      await new Promise((r) => setTimeout(r, 300));
      expect(writer.handedToWrite).toBe(stalledAt);

      let received = 0;
      stream.on('data', (d: Buffer) => (received += d.length));
      await once(stream, 'end');
      expect(received).toBe(total);
      expect(writer.drains).toBeGreaterThan(0);
      console.log(`backpressure: agent stalled after ${(stalledAt / MiB).toFixed(2)} MiB handed to write() with nobody reading; ${writer.drains} drains for 64 MiB`);
    });

    it('a slow agent-side reader makes the proxy’s write() return false', async () => {
      let agentStream: Duplex | undefined;
      const world = await startWorld({
        onStream: (_meta, stream) => {
          agentStream = stream;
          stream.pause();
        },
      });
      const stream = await world.tunnels.openStream(world.agentId, { service: 'sink' });
      const chunk = Buffer.alloc(64 * 1024, 3);
      let accepted = 0;
      while (stream.write(chunk)) {
        accepted += chunk.length;
        if (accepted > 64 * MiB) break;
      }
      expect(accepted).toBeLessThan(4 * MiB);
      const drained = once(stream, 'drain');
      let read = 0;
      agentStream!.on('data', (d: Buffer) => (read += d.length));
      agentStream!.resume();
      await drained;
      stream.end();
      await waitFor(() => read === accepted + chunk.length, 5_000, 'the agent to read everything');
    });
  });

  describe('refusals', () => {
    it('passes the agent’s TeleportError (kind, code, message, hint) to openStream', async () => {
      const world = await startWorld({
        onStream: (meta) => {
          throw new NotFoundError(`database "${meta.service}" is not served by this agent`, { hint: 'check db_service.databases' });
        },
      });
      await expect(world.tunnels.openStream(world.agentId, { service: 'nope' })).rejects.toMatchObject({
        kind: 'not-found',
        code: 'ERR_TP_NOT_FOUND',
        message: 'database "nope" is not served by this agent',
        hint: 'check db_service.databases',
      });
    });

    it('hides the detail of a foreign error behind a ConnectionProblemError', async () => {
      const world = await startWorld({
        onStream: async () => {
          await new Promise((r) => setTimeout(r, 10));
          throw new Error('connect ECONNREFUSED 10.1.2.3:5432');
        },
      });
      const err: unknown = await world.tunnels.openStream(world.agentId, { service: 'orders' }).catch((e: unknown) => e);
      expect(isTeleportError(err) && err.kind).toBe('connection-problem');
      expect((err as Error).message).toBe('the agent could not serve "orders"');
    });

    it('times out an agent that never answers, and honours an abort signal', async () => {
      const world = await startWorld({ onStream: () => new Promise<void>(() => undefined), server: { openTimeoutMs: 200 } });
      await expect(world.tunnels.openStream(world.agentId, { service: 'slow' })).rejects.toMatchObject({ code: TUNNEL_ERROR_CODES.streamFailed });
      const controller = new AbortController();
      const opening = world.tunnels.openStream(world.agentId, { service: 'slow' }, { signal: controller.signal });
      controller.abort(new Error('client went away'));
      await expect(opening).rejects.toThrow('client went away');
    });

    it('refuses metadata without a service before sending anything', async () => {
      const world = await startWorld();
      await expect(world.tunnels.openStream(world.agentId, { service: '' })).rejects.toMatchObject({ code: TUNNEL_ERROR_CODES.badMeta });
    });
  });

  describe('failures and recovery', () => {
    it('reconnects after the proxy is closed and restarted on the same port, and streams work again', async () => {
      const world = await startWorld();
      const port = world.listener.port;
      await world.listener.close();
      await waitFor(() => !world.tunnels.hasAgent(world.agentId), 5_000, 'the proxy to drop the agent');
      await waitFor(() => world.agent.state !== 'connected', 5_000, 'the agent to notice');
      await new Promise((r) => setTimeout(r, 300)); // a few failed dials while the proxy is down

      // A restarted proxy is a new process: fresh tunnel registry, same port.
      const restarted = newTunnelServer();
      const listener = await startProxyListener({ pki, tunnels: restarted, port });
      cleanups.push(
        () => restarted.close(),
        () => listener.close(),
      );
      // Each end considers the tunnel up when the other's SETTINGS arrive, so wait for both.
      await waitFor(() => restarted.hasAgent(world.agentId) && world.agent.state === 'connected', 5_000, 'the agent to reconnect');
      const data = randomBytes(MiB);
      expect(sha256(await exchange(await restarted.openStream(world.agentId, { service: 'again' }), data))).toBe(sha256(data));
    });

    it('notices a dead agent (socket destroyed): openStream fails with a ConnectionProblemError naming it', async () => {
      let allowDial = true;
      let agentSocket: TLSSocket | undefined;
      let proxyPort = 0;
      const world = await startWorld({
        port: () => proxyPort,
        agent: {
          connect: async (signal) => {
            if (!allowDial) throw new Error('network down');
            allowDial = false;
            return dialProxy(pki, () => proxyPort, (s) => (agentSocket = s))(signal);
          },
        },
        beforeAgent: (listener) => (proxyPort = listener.port),
      });
      const inFlight = await world.tunnels.openStream(world.agentId, { service: 'in-flight' });
      inFlight.on('error', () => undefined);
      const inFlightClosed = once(inFlight, 'close');

      agentSocket!.destroy(); // the agent process dies
      await waitFor(() => world.gone.length === 1, 5_000, 'onAgentGone');
      expect(world.gone[0]!.id).toBe(world.agentId);
      expect(world.tunnels.hasAgent(world.agentId)).toBe(false);
      await inFlightClosed;

      const err: unknown = await world.tunnels.openStream(world.agentId, { service: 'db' }).catch((e: unknown) => e);
      expect(isTeleportError(err) && err.kind).toBe('connection-problem');
      expect(isTeleportError(err) && err.code).toBe(TUNNEL_ERROR_CODES.agentOffline);
      expect((err as Error).message).toContain(world.agentId);
    });

    it('notices a silent path with HTTP/2 PING on both ends: the proxy drops the agent, the agent reconnects', async () => {
      const records: TunnelDiagnostic[] = [];
      const onRecord = (r: unknown) => records.push(r as TunnelDiagnostic);
      diagnostics_channel.subscribe(TUNNEL_CHANNEL, onRecord);
      cleanups.push(() => {
        diagnostics_channel.unsubscribe(TUNNEL_CHANNEL, onRecord);
      });

      const keepAlive = { keepAliveIntervalMs: 100, keepAliveTimeoutMs: 300 };
      const tunnels = newTunnelServer({ ...keepAlive });
      const listener = await startProxyListener({ pki, tunnels });
      const relay = await startRelay(listener.port);
      const agent = startTunnelAgent({ connect: dialProxy(pki, () => relay.port), onStream: echo, backoff: FAST_BACKOFF, ...keepAlive });
      cleanups.push(
        () => agent.close(),
        () => tunnels.close(),
        () => relay.close(),
        () => listener.close(),
      );
      await agent.ready;
      await waitFor(() => tunnels.hasAgent(pki.agent.hostId));

      relay.freeze(); // no FIN, no RST: just silence
      const frozenAt = records.length;
      const since = () => records.slice(frozenAt);
      await waitFor(() => since().some((r) => r.event === 'keepalive-timeout' && r.side === 'proxy'), 3_000, 'the proxy keepalive timeout');
      await waitFor(() => since().some((r) => r.event === 'keepalive-timeout' && r.side === 'agent'), 3_000, 'the agent keepalive timeout');
      // The agent dialed again through the relay (which only froze the old connection).
      await waitFor(() => since().some((r) => r.event === 'connected' && r.side === 'proxy'), 5_000, 'the agent to reconnect');
      expect(tunnels.hasAgent(pki.agent.hostId)).toBe(true);
      const data = randomBytes(256 * 1024);
      expect(sha256(await exchange(await tunnels.openStream(pki.agent.hostId, { service: 'after-freeze' }), data))).toBe(sha256(data));
    });

    it('refuses a proxy that does not negotiate the tunnel ALPN, and keeps retrying', async () => {
      const records: TunnelDiagnostic[] = [];
      const onRecord = (r: unknown) => records.push(r as TunnelDiagnostic);
      diagnostics_channel.subscribe(TUNNEL_CHANNEL, onRecord);
      cleanups.push(() => {
        diagnostics_channel.unsubscribe(TUNNEL_CHANNEL, onRecord);
      });
      const server = createTlsServer({ key: pki.proxy.key, cert: pki.proxy.cert, ca: pki.caCert, requestCert: true }, (s) => s.on('error', () => undefined));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      const agent = startTunnelAgent({ connect: dialProxy(pki, () => (server.address() as { port: number }).port), onStream: echo, backoff: FAST_BACKOFF });
      cleanups.push(() => agent.close());
      await waitFor(() => records.filter((r) => r.event === 'connect-failed').length >= 2, 5_000, 'two failed attempts');
      expect(records.find((r) => r.event === 'connect-failed')).toMatchObject({ reason: 'the proxy did not negotiate ALPN "teleport-reversetunnel"' });
      expect(agent.state).not.toBe('connected');
    });

    it('close() drops the tunnel; closing before the first connection rejects ready', async () => {
      const world = await startWorld();
      await world.agent.close();
      expect(world.agent.state).toBe('closed');
      await waitFor(() => !world.tunnels.hasAgent(world.agentId), 5_000, 'the proxy to drop the agent');

      const never = startTunnelAgent({
        connect: (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        onStream: echo,
      });
      expect(never.state).toBe('connecting');
      await never.close();
      await expect(never.ready).rejects.toMatchObject({ kind: 'connection-problem' });
      expect(never.state).toBe('closed');
    });
  });

  it('throughput: tunnel vs a direct TCP and TLS echo in the same process (printed, not asserted)', async () => {
    const world = await startWorld();
    const data = randomBytes(64 * MiB);
    const rate = (ms: number) => `${(data.length / MiB / (ms / 1000)).toFixed(0)} MB/s`;

    let t = performance.now();
    const viaTunnel = await exchange(await world.tunnels.openStream(world.agentId, { service: 'bench' }), data);
    const tunnelMs = performance.now() - t;
    expect(viaTunnel.length).toBe(data.length);

    const tcpServer = createNetServer((s) => s.pipe(s));
    tcpServer.listen(0, '127.0.0.1');
    await once(tcpServer, 'listening');
    cleanups.push(() => new Promise<void>((r) => tcpServer.close(() => r())));
    const tcp = connectNet({ host: '127.0.0.1', port: (tcpServer.address() as { port: number }).port });
    await once(tcp, 'connect');
    t = performance.now();
    const viaTcp = await exchange(tcp, data);
    const tcpMs = performance.now() - t;
    expect(viaTcp.length).toBe(data.length);

    const tlsServer = createTlsServer({ key: pki.proxy.key, cert: pki.proxy.cert }, (s) => s.pipe(s));
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    cleanups.push(() => new Promise<void>((r) => tlsServer.close(() => r())));
    const tls = connectTls({ host: '127.0.0.1', port: (tlsServer.address() as { port: number }).port, ca: pki.caCert, servername: 'localhost' });
    await once(tls, 'secureConnect');
    t = performance.now();
    const viaTls = await exchange(tls, data);
    const tlsMs = performance.now() - t;
    expect(viaTls.length).toBe(data.length);

    console.log(
      `throughput, 64 MiB echoed (each way, both ends in this process): tunnel ${rate(tunnelMs)}, direct TLS ${rate(tlsMs)}, direct TCP ${rate(tcpMs)}`,
    );
  });
});
