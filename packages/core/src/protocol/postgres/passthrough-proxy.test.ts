/**
 * End to end against a real PostgreSQL: a tiny pass-through proxy built only from this module's pieces
 * (read the startup message, answer SSLRequest, replay the startup to the server, rewrite BackendKeyData, pipe
 * both ways with taps) must be transparent to psql and node-postgres, route cancel requests with the keys it
 * issued, and get its own FATAL errors shown by psql.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { requireTool, usePostgres } from '@teleport-ts/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from '../../ca/testing/run.js';
import { newCancelKeyRegistry, sendCancelRequest } from './cancel.js';
import { SQLSTATE } from './constants.js';
import type { BackendKey, FrontendMessage } from './messages.js';
import { serializeEncryptionResponse, serializeErrorResponse } from './serializer.js';
import { readStartupMessage } from './startup.js';
import { backendMessageTap, frontendMessageTap } from './tap.js';

const psql = requireTool('psql', 'postgresql-client');

interface TestProxy {
  port: number;
  registry: ReturnType<typeof newCancelKeyRegistry<{ serverKey: BackendKey }>>;
  /** Every statement the frontend tap saw. */
  statements: FrontendMessage[];
  /** Real server process ids by the process id the proxy issued for them. */
  issuedToReal: Map<number, number>;
  cancelsForwarded: number;
  close(): Promise<void>;
}

/** The pass-through proxy: everything the next engineer wires into the db agent, in 50 lines. */
async function startTestProxy(target: { host: string; port: number }): Promise<TestProxy> {
  const registry = newCancelKeyRegistry<{ serverKey: BackendKey }>();
  const sockets = new Set<Socket>();
  const proxy: TestProxy = {
    port: 0,
    registry,
    statements: [],
    issuedToReal: new Map(),
    cancelsForwarded: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };

  async function serve(client: Socket): Promise<void> {
    let { message, raw } = await readStartupMessage(client, { signal: AbortSignal.timeout(10_000) });
    while (message.type === 'sslRequest' || message.type === 'gssEncRequest') {
      client.write(serializeEncryptionResponse(false));
      ({ message, raw } = await readStartupMessage(client, { signal: AbortSignal.timeout(10_000) }));
    }
    if (message.type === 'cancelRequest') {
      const found = registry.lookup(message);
      if (found !== undefined) {
        proxy.cancelsForwarded++;
        await sendCancelRequest(connect(target), found.serverKey, { signal: AbortSignal.timeout(5_000) });
      }
      client.end();
      return;
    }
    const database = message.parameters.database ?? message.parameters.user ?? '';
    if (database === 'forbidden') {
      client.end(
        serializeErrorResponse({
          severity: 'FATAL',
          code: SQLSTATE.invalidAuthorizationSpecification,
          message: `access to database "${database}" denied`,
          hint: 'ask your Teleport admin for a role with db_names: ["forbidden"]',
        }),
      );
      return;
    }
    const backend = connect(target);
    sockets.add(backend);
    backend.on('error', () => undefined);
    await once(backend, 'connect');
    backend.write(raw);
    const releases: (() => void)[] = [];
    const toClient = backendMessageTap({
      rewriteBackendKeyData: (serverKey) => {
        const issued = registry.register({ serverKey }, { secretKeyLength: serverKey.secretKey.length });
        proxy.issuedToReal.set(issued.key.processId, serverKey.processId);
        releases.push(issued.release);
        return issued.key;
      },
    });
    const toServer = frontendMessageTap({ onMessage: (m) => proxy.statements.push(m) });
    try {
      await Promise.allSettled([pipeline(client, toServer, backend), pipeline(backend, toClient, client)]);
    } finally {
      for (const release of releases) release();
      sockets.delete(backend);
    }
  }

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    client.once('close', () => sockets.delete(client));
    serve(client).catch(() => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}

/** node-postgres keeps the BackendKeyData it received on the client. */
function clientKey(client: pg.Client): BackendKey {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const secret = Buffer.alloc(4);
  secret.writeInt32BE(secretKey);
  return { processId: processID, secretKey: secret };
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a pass-through proxy built from protocol/postgres, against a real PostgreSQL', () => {
  const db = usePostgres();
  let proxy: TestProxy;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    proxy = await startTestProxy({ host: db.server.host, port: db.server.port });
  });
  afterAll(() => proxy?.close());
  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((c) => c.end()));
  });

  const connectThroughProxy = async (): Promise<pg.Client> => {
    const client = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres' });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };

  const sleepingBackends = async (): Promise<number[]> =>
    (await db.server.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE 'select pg_sleep(30)%' AND state = 'active'")).map((r) => r.pid);

  it.skipIf(!psql.available)('psql runs `select 1` through it (after its SSLRequest is refused) and the tap sees the query', async () => {
    const result = await runTool('psql', [`host=127.0.0.1 port=${proxy.port} user=postgres dbname=postgres sslmode=prefer connect_timeout=10`, '-X', '-A', '-t', '-c', 'select 1'], {
      env: { PGAPPNAME: 'psql-through-proxy' },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('1');
    expect(result.code).toBe(0);
    expect(proxy.statements).toContainEqual({ type: 'query', text: 'select 1' });
  });

  it.skipIf(!psql.available)('psql shows the proxy’s ErrorResponse as a FATAL line with its hint', async () => {
    const result = await runTool('psql', [`host=127.0.0.1 port=${proxy.port} user=postgres dbname=forbidden sslmode=disable`, '-X', '-c', 'select 1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('FATAL:  access to database "forbidden" denied');
    expect(result.stderr).toContain('HINT:  ask your Teleport admin for a role with db_names: ["forbidden"]');
  });

  it('node-postgres runs extended-protocol statements and the tap records Parse and Bind', async () => {
    const client = await connectThroughProxy();
    const { rows } = await client.query<{ n: number }>({ text: 'select $1::int + 1 as n', values: [41] });
    expect(rows).toEqual([{ n: 42 }]);
    expect(proxy.statements).toContainEqual({ type: 'parse', statement: '', text: 'select $1::int + 1 as n', parameterTypes: [] });
    expect(proxy.statements).toContainEqual(expect.objectContaining({ type: 'bind', parameters: [Buffer.from('41')] }));
    expect(proxy.statements).toContainEqual({ type: 'sync' });
  });

  it('hands clients its own cancel keys, never the server’s, and forgets them when the session ends', async () => {
    const client = await connectThroughProxy();
    const key = clientKey(client);
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const realPid = rows[0]!.pid;
    expect(key.processId).not.toBe(realPid);
    expect(proxy.issuedToReal.get(key.processId)).toBe(realPid);
    expect(proxy.registry.lookup(key)).toBeDefined();
    await client.end();
    await waitFor(() => proxy.registry.lookup(key) === undefined);
  });

  it('routes a CancelRequest with the proxy-issued key to the right backend: pg_sleep(30) ends within 2 s', async () => {
    const victim = await connectThroughProxy();
    const bystander = await connectThroughProxy();
    const sleeping = victim.query('select pg_sleep(30)');
    const bystanderSleep = bystander.query('select pg_sleep(30)');
    sleeping.catch(() => undefined);
    bystanderSleep.catch(() => undefined);
    await waitFor(async () => (await sleepingBackends()).length === 2);

    // A wrong secret is dropped silently, as PostgreSQL does.
    const key = clientKey(victim);
    const forwardedBefore = proxy.cancelsForwarded;
    const wrong = { processId: key.processId, secretKey: Buffer.from(key.secretKey.map((b) => b ^ 0xff)) };
    await sendCancelRequest(connect({ host: '127.0.0.1', port: proxy.port }), wrong);
    expect(proxy.cancelsForwarded).toBe(forwardedBefore);

    const sentAt = Date.now();
    await sendCancelRequest(connect({ host: '127.0.0.1', port: proxy.port }), key);
    await expect(sleeping).rejects.toMatchObject({ code: SQLSTATE.queryCanceled });
    expect(Date.now() - sentAt).toBeLessThan(2_000);
    expect(proxy.cancelsForwarded).toBe(forwardedBefore + 1);

    // Only the victim's query was cancelled.
    expect(await sleepingBackends()).toHaveLength(1);
    await sendCancelRequest(connect({ host: '127.0.0.1', port: proxy.port }), clientKey(bystander));
    await expect(bystanderSleep).rejects.toMatchObject({ code: SQLSTATE.queryCanceled });
  });

  it.skipIf(!psql.available)('psql’s own cancel (Ctrl-C) goes through the proxy with the issued key', async () => {
    const child = spawn('psql', [`host=127.0.0.1 port=${proxy.port} user=postgres dbname=postgres sslmode=disable`, '-X', '-c', 'select pg_sleep(30)'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit');
    try {
      await waitFor(async () => (await sleepingBackends()).length === 1);
      const sentAt = Date.now();
      child.kill('SIGINT');
      await exited;
      expect(Date.now() - sentAt).toBeLessThan(2_000);
      expect(stderr).toContain('ERROR:  canceling statement due to user request');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
