/**
 * The local proxy against a stand-in Teleport proxy (TLS, ALPN `teleport-postgres`, client certificates required)
 * that relays to a real PostgreSQL: psql through it, the client certificate it presents, a CancelRequest forwarded on
 * a new connection, and the errors a client sees when the proxy is gone or untrusted.
 */

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newBackendParser, serializeCancelRequest, serializeQuery, serializeStartupMessage, type BackendMessage } from '@teleport-ts/core/protocol/postgres';
import { makeTestPki, requireTool, usePostgres, type TestPki } from '@teleport-ts/testkit';
import { startLocalProxy, type LocalProxy } from '../src/db/localproxy.js';

const run = promisify(execFile);
const psql = requireTool('psql', 'postgresql-client');
const openssl = requireTool('openssl', 'openssl');

interface StandInProxy {
  port: number;
  /** CNs of the client certificates presented so far. */
  clients: string[];
  /** Whether each connection resumed a TLS session. */
  resumed: boolean[];
  close(): Promise<void>;
}

function startStandInProxy(pki: { cert: string; key: string; ca: string }, pgPort: number, port = 0): Promise<StandInProxy> {
  const clients: string[] = [];
  const resumed: boolean[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: pki.cert, key: pki.key, ca: pki.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['teleport-postgres'] }, (socket) => {
    const peer = socket.getPeerCertificate();
    clients.push(typeof peer.subject?.CN === 'string' ? peer.subject.CN : '');
    resumed.push(socket.isSessionReused());
    const upstream = net.connect({ host: '127.0.0.1', port: pgPort });
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        socket.destroy();
        upstream.destroy();
      });
      s.once('close', () => {
        sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        clients,
        resumed,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

/** A minimal protocol client: startup, then collects decoded backend messages. */
function pgSession(port: number, parameters: Record<string, string>) {
  const socket = net.connect({ host: '127.0.0.1', port });
  const parser = newBackendParser();
  const messages: BackendMessage[] = [];
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const seg of parser.push(chunk)) if (seg.kind === 'message') messages.push(seg.message);
    for (const w of waiters.splice(0)) w();
  });
  socket.once('connect', () => socket.write(serializeStartupMessage({ parameters })));
  const until = async (pred: (m: BackendMessage) => boolean, timeoutMs = 5_000): Promise<BackendMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.type))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { socket, messages, until };
}

const pg = usePostgres();

describe.skipIf(!openssl.available)('local proxy', () => {
  let dir: string;
  let pki: TestPki;
  let files: { cert: string; key: string; ca: string; clientCert: string; clientKey: string };
  let proxy: StandInProxy;
  let local: LocalProxy;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tsh-localproxy-'));
    pki = await makeTestPki(dir, { clientCommonName: 'alice' });
    const read = (f: string) => readFile(f, 'utf8');
    files = { cert: await read(pki.serverCert), key: await read(pki.serverKey), ca: await read(pki.caCert), clientCert: await read(pki.clientCert), clientKey: await read(pki.clientKey) };
  });
  afterAll(async () => {
    await local?.close();
    await proxy?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('relays psql (SSLRequest answered N) with the database certificate presented to the proxy', async (ctx) => {
    if (!psql.available) ctx.skip();
    proxy = await startStandInProxy(files, pg.server.port);
    local = await startLocalProxy({
      proxy: { host: '127.0.0.1', port: proxy.port },
      ca: [files.ca],
      insecure: false,
      credentials: async () => ({ cert: files.clientCert, key: files.clientKey }),
    });
    expect(local.host).toBe('127.0.0.1');
    const { stdout } = await run(psql.path!, [`postgres://postgres@127.0.0.1:${local.port}/postgres`, '-tAc', 'select current_user'], {
      env: { ...process.env, PGSSLMODE: 'prefer', PGCONNECT_TIMEOUT: '10' },
    });
    expect(stdout.trim()).toBe('postgres');
    expect(proxy.clients).toContain(new X509Certificate(files.clientCert).subject.match(/CN=(\S+)/)?.[1]);
    expect(proxy.clients.at(-1)).toBe('alice');
  });

  it('forwards a CancelRequest on a new proxy connection: pg_sleep(30) ends within 2 s', async () => {
    proxy ??= await startStandInProxy(files, pg.server.port);
    local ??= await startLocalProxy({
      proxy: { host: '127.0.0.1', port: proxy.port },
      ca: [files.ca],
      insecure: false,
      credentials: async () => ({ cert: files.clientCert, key: files.clientKey }),
    });
    const session = pgSession(local.port, { user: 'postgres', database: 'postgres' });
    const key = await session.until((m) => m.type === 'backendKeyData');
    await session.until((m) => m.type === 'readyForQuery');
    const before = proxy.clients.length;
    session.socket.write(serializeQuery('select pg_sleep(30)'));
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const cancel = net.connect({ host: '127.0.0.1', port: local.port });
    cancel.on('error', () => {});
    cancel.once('connect', () => cancel.end(serializeCancelRequest(key as Extract<BackendMessage, { type: 'backendKeyData' }>)));
    const error = await session.until((m) => m.type === 'errorResponse', 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ type: 'errorResponse', fields: { code: '57014' } });
    // The cancel went out on its own TLS connection with the same certificate.
    expect(proxy.clients.length).toBe(before + 1);
    session.socket.destroy();
  });

  it('resumes its TLS session with the proxy for later connections, which still present the client certificate', async () => {
    let own = await startStandInProxy(files, pg.server.port);
    const lp = await startLocalProxy({ proxy: { host: '127.0.0.1', port: own.port }, ca: [files.ca], insecure: false, credentials: async () => ({ cert: files.clientCert, key: files.clientKey }) });
    const sessions = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const session = pgSession(lp.port, { user: 'postgres', database: 'postgres' });
        await session.until((m) => m.type === 'readyForQuery');
        session.socket.destroy();
      }
    };
    try {
      await sessions(4);
      expect(own.resumed).toEqual([false, true, true, true]);
      expect(own.clients).toEqual(['alice', 'alice', 'alice', 'alice']);
      // A restarted proxy (new ticket keys) refuses the old ticket: one full handshake, then resumed again.
      await own.close();
      own = await startStandInProxy(files, pg.server.port, own.port);
      await sessions(3);
      expect(own.resumed).toEqual([false, true, true]);
      expect(own.clients).toEqual(['alice', 'alice', 'alice']);
    } finally {
      await lp.close();
      await own.close();
    }
  });

  it('answers an ErrorResponse when the proxy is unreachable or untrusted', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const down = await startLocalProxy({ proxy: { host: '127.0.0.1', port: closed }, ca: [files.ca], insecure: false, credentials: async () => ({ cert: files.clientCert, key: files.clientKey }) });
    const s1 = pgSession(down.port, { user: 'alice' });
    const e1 = await s1.until((m) => m.type === 'errorResponse');
    expect(e1).toMatchObject({ fields: { severity: 'FATAL', code: '08006', message: `could not reach the database through the Teleport proxy: failed to connect to proxy 127.0.0.1:${closed}: connection refused` } });
    await down.close();

    proxy ??= await startStandInProxy(files, pg.server.port);
    const untrusted = await startLocalProxy({ proxy: { host: '127.0.0.1', port: proxy.port }, ca: [], insecure: false, credentials: async () => ({ cert: files.clientCert, key: files.clientKey }) });
    const s2 = pgSession(untrusted.port, { user: 'alice' });
    const e2 = await s2.until((m) => m.type === 'errorResponse');
    expect((e2 as { fields: { message: string } }).fields.message).toMatch(/cannot verify the TLS certificate of proxy 127\.0\.0\.1:\d+ .*rerun with --insecure/);
    await untrusted.close();
  });
});

describe('slow clients of the local proxy', () => {
  it('cuts a client that sends nothing, or one byte every 5 s, within 30 s with a FATAL (the default startup deadline)', { timeout: 45_000 }, async () => {
    const lp = await startLocalProxy({ proxy: { host: '127.0.0.1', port: 9 }, ca: [], insecure: true, credentials: async () => ({ cert: '', key: '' }) });
    try {
      const probe = (dribble: boolean) =>
        new Promise<{ ms: number; reply: string }>((resolve) => {
          const opened = Date.now();
          const socket = net.connect({ host: lp.host, port: lp.port });
          let reply = '';
          socket.on('error', () => undefined);
          socket.on('data', (b: Buffer) => (reply += b.toString('latin1')));
          // An SSLRequest, one byte every 5 s.
          const bytes = [0, 0, 0, 8, 4, 210, 22, 47];
          const timer = dribble ? setInterval(() => bytes.length > 0 && socket.write(Buffer.from([bytes.shift()!])), 5_000) : undefined;
          socket.once('close', () => {
            clearInterval(timer);
            resolve({ ms: Date.now() - opened, reply });
          });
        });
      const [silent, slow] = await Promise.all([probe(false), probe(true)]);
      for (const r of [silent, slow]) {
        expect(r.ms).toBeLessThanOrEqual(30_000);
        expect(r.reply).toContain('SFATAL');
      }
    } finally {
      await lp.close();
    }
  });
});
