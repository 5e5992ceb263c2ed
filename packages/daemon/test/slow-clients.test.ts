/**
 * Slow and idle clients on every listener, with real sockets: the proxy's port (the web API over http/1.1, the
 * `teleport-postgres` route, the reverse tunnel before an agent is identified, the `teleport-auth` passthrough), the
 * auth API and the diagnostic endpoint. A client that completes its handshake and then sends nothing, or one header
 * line (one byte) every 5 s, is cut within 30 s at the defaults; the per-address cap on connections that have not
 * sent a request refuses the next one with a 429; an established database session idles past every deadline.
 */

import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRole } from '@teleport-ts/core/types';
import { requirePostgres, requireTool, type PostgresServer } from '@teleport-ts/testkit';
import { startDiagServer, type DiagServer } from '../src/diag.js';
import { databaseUserCert, startClusterPostgres, startDbTestCluster, startLocalForward, type DbTestCluster, type LocalForward } from './db-helpers.js';
import { PgClient } from './pg-client.js';

const postgres = requirePostgres();
const openssl = requireTool('openssl', 'openssl');

/** A connection and the time it was opened. */
interface Probe {
  socket: Socket;
  opened: number;
  /** Milliseconds from opening to the server closing it. */
  closedAfter: Promise<number>;
  /** What the server sent so far. */
  received: () => string;
}

function track(socket: Socket): Probe {
  const opened = Date.now();
  socket.on('error', () => undefined);
  // Read what the server says (a refusal), as a real client does; a paused socket never sees the end.
  let received = '';
  socket.on('data', (b: Buffer) => (received += b.toString('latin1')));
  return { socket, opened, closedAfter: new Promise((resolve) => socket.once('close', () => resolve(Date.now() - opened))), received: () => received };
}

async function tlsProbe(port: number, alpn: string[]): Promise<Probe> {
  const socket = connectTls({ host: '127.0.0.1', port, ALPNProtocols: alpn, rejectUnauthorized: false });
  const probe = track(socket);
  await Promise.race([new Promise((resolve) => socket.once('secureConnect', resolve)), probe.closedAfter]);
  return probe;
}

async function tcpProbe(port: number): Promise<Probe> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  const probe = track(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  return probe;
}

/** Writes `lines` one by one, `everyMs` apart, while the socket is open (a slow-loris). */
function dribble(probe: Probe, lines: readonly string[], everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (probe.socket.destroyed || i >= lines.length) return clearInterval(timer);
    probe.socket.write(lines[i++]!);
  }, everyMs);
  probe.socket.once('close', () => clearInterval(timer));
}

const HEADER_LINES = ['GET /webapi/ping HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 20 }, (_, i) => `X-Slow-${i}: y\r\n`)];

describe('slow and idle clients at the default deadlines', () => {
  let c: DbTestCluster;
  let diag: DiagServer;

  beforeAll(async () => {
    c = await startDbTestCluster();
    diag = await startDiagServer({ addr: '127.0.0.1:0', notReadyReason: () => undefined });
  });
  afterAll(async () => {
    await diag?.close();
    await c?.close();
  });

  it('every listener cuts a client that sends nothing, or one header line every 5 s, within 30 s', { timeout: 60_000 }, async () => {
    const authPort = Number(c.t.auth.dialAddr.split(':').pop());
    const diagPort = Number(diag.addr.split(':').pop());
    const proxy = c.proxyPort;
    const silent: Record<string, Promise<Probe>> = {
      'proxy web (http/1.1)': tlsProbe(proxy, ['http/1.1']),
      'proxy web (no ALPN)': tlsProbe(proxy, []),
      'proxy teleport-postgres': tlsProbe(proxy, ['teleport-postgres']),
      'proxy teleport-reversetunnel (no agent certificate)': tlsProbe(proxy, ['teleport-reversetunnel']),
      'proxy teleport-auth passthrough': tlsProbe(proxy, ['teleport-auth', 'http/1.1']),
      'auth API': tlsProbe(authPort, ['http/1.1']),
      'diagnostic endpoint': tcpProbe(diagPort),
    };
    const slow: Record<string, Promise<Probe>> = {
      'proxy web (http/1.1)': tlsProbe(proxy, ['http/1.1']),
      'proxy teleport-auth passthrough': tlsProbe(proxy, ['teleport-auth', 'http/1.1']),
      'auth API': tlsProbe(authPort, ['http/1.1']),
      'diagnostic endpoint': tcpProbe(diagPort),
    };
    for (const p of Object.values(slow)) dribble(await p, HEADER_LINES, 5_000);
    // The startup message one byte every 5 s: a length of 8, then an SSLRequest's code.
    const pg = await tlsProbe(proxy, ['teleport-postgres']);
    dribble(pg, ['\0', '\0', '\0', '\x08', '\x04', '\xd2', '\x16', '\x2f'].map((b) => Buffer.from(b, 'latin1').toString('latin1')), 5_000);
    slow['proxy teleport-postgres'] = Promise.resolve(pg);

    const results: Record<string, number> = {};
    const all = [...Object.entries(silent).map(([k, v]) => [`${k}, silent`, v] as const), ...Object.entries(slow).map(([k, v]) => [`${k}, slow`, v] as const)];
    await Promise.all(
      all.map(async ([name, p]) => {
        results[name] = await Promise.race([(await p).closedAfter, new Promise<number>((r) => setTimeout(() => r(Infinity), 31_000))]);
      }),
    );
    for (const [name, ms] of Object.entries(results)) expect({ name, cutWithin30s: ms <= 30_000 }).toEqual({ name, cutWithin30s: true });
  });
});

describe.skipIf(!postgres || !openssl.available)('shortened deadlines, the per-address cap, and established sessions', () => {
  let c: DbTestCluster;
  let pgServer: PostgresServer;
  let forward: LocalForward;
  const deadlines = { handshakeMs: 1_000, headersMs: 1_000, bodyMs: 1_000, keepAliveMs: 2_500 };

  beforeAll(async () => {
    c = await startDbTestCluster({ proxyLimits: { deadlines, maxPendingPerAddress: 3 }, auth: { deadlines } });
    const { server } = await startClusterPostgres(c.t, path.join(c.dataDir, 'pg'));
    pgServer = server;
    await pgServer.query('CREATE ROLE alice LOGIN');
    await pgServer.query('CREATE DATABASE app');
    await c.t.admin.createRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'db' }, spec: { allow: { db_labels: { '*': '*' }, db_users: ['*'], db_names: ['*'] } } }));
    await c.t.admin.createUser({ name: 'alice', roles: ['db'], invite: false });
    await c.startAgent('agent', [{ name: 'pg', protocol: 'postgres', uri: `127.0.0.1:${pgServer.port}`, static_labels: {} }]);
    forward = await startLocalForward(() => c.proxyPort, await databaseUserCert(c.t, 'alice', { serviceName: 'pg', protocol: 'postgres', username: 'alice', database: 'app' }));
  }, 60_000);
  afterAll(async () => {
    await forward?.close();
    await c?.close();
    await pgServer?.destroy();
  });

  it('a request body that stops coming is cut at the body deadline', async () => {
    const probe = await tlsProbe(c.proxyPort, ['http/1.1']);
    probe.socket.write('POST /v1/webapi/ssh/certs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
    const ms = await probe.closedAfter;
    expect(probe.received()).toBe('');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(3_000);
  });

  it('refuses the fourth unidentified connection from one address with a 429 naming the limit; a request frees its slot', async () => {
    const held = await Promise.all([1, 2, 3].map(() => tlsProbe(c.proxyPort, ['http/1.1'])));
    const refused = await tlsProbe(c.proxyPort, ['http/1.1']);
    await refused.closedAfter;
    const reply = refused.received();
    expect(reply).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(reply).toContain('too many connections from 127.0.0.1 that have not sent a request yet (limit 3); try again later');
    // A complete request head frees the slot: a fourth connection is then served.
    const first = held[0]!;
    first.socket.write('GET /webapi/ping HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(first.socket, 'data');
    const served = await tlsProbe(c.proxyPort, ['http/1.1']);
    served.socket.write('GET /webapi/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [chunk] = (await once(served.socket, 'data')) as [Buffer];
    expect(chunk.toString()).toMatch(/^HTTP\/1\.1 200 /);
    for (const p of [...held, served]) p.socket.destroy();
  });

  it('a kept-alive connection may wait longer than the first head\'s deadline between requests, and is closed after the keep-alive one', async () => {
    const probe = await tlsProbe(c.proxyPort, ['http/1.1']);
    const ping = async (): Promise<string> => {
      probe.socket.write('GET /webapi/ping HTTP/1.1\r\nHost: x\r\n\r\n');
      const [chunk] = (await once(probe.socket, 'data')) as [Buffer];
      return chunk.toString();
    };
    expect(await ping()).toMatch(/^HTTP\/1\.1 200 /);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ping()).toMatch(/^HTTP\/1\.1 200 /);
    const idleFrom = Date.now();
    await probe.closedAfter;
    expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(2_400);
    expect(Date.now() - idleFrom).toBeLessThan(4_500);
  });

  it('an established database session idles past every deadline and still runs queries', async () => {
    const client = new PgClient({ host: '127.0.0.1', port: forward.port, user: 'alice', database: 'app', ssl: false, connectionTimeoutMillis: 15_000 });
    client.on('error', () => undefined);
    await client.connect();
    await new Promise((r) => setTimeout(r, 3 * deadlines.headersMs + 500));
    expect((await client.query<{ n: number }>('select 1 as n')).rows).toEqual([{ n: 1 }]);
    await client.end();
  });

  it('the auth API cuts a silent client at its shortened deadline', async () => {
    const probe = await tlsProbe(Number(c.t.auth.dialAddr.split(':').pop()), ['http/1.1']);
    expect(await probe.closedAfter).toBeLessThan(3_000);
  });
});
