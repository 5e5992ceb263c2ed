/**
 * The client loops of the soak, each doing what a user does, through haproxy, with the built CLIs:
 * - probe: a fresh `tsh login` then a fresh `tsh db connect` + query (each allowed one retry); its outcome over
 *   time is the user-visible availability;
 * - session: one long-lived database session (pg through `tsh proxy db --tunnel`) querying every 100 ms, reconnecting
 *   when it breaks;
 * - writes: `tctl` creating users, roles and locks, run as an admin does on an auth host that is up;
 * - ssh: `tsh ssh root@soak-node 'true <marker>'`.
 */

import type { ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { HA_PASSWORD, runTshAt, startLocalDbProxy, type HaCluster, type HaMember } from '@teleport-ts/testkit';
import { errorLine, type Op, type Recorder } from './record.js';

const OP_TIMEOUT_MS = 20_000;
const RETRY_PAUSE_MS = 1_000;

export interface ClientContext {
  cluster: HaCluster;
  rec: Recorder;
  /** Scratch directory for fresh tsh homes and resource files. */
  dir: string;
  stopping: boolean;
  /** Members a fault has taken down (tctl is not pointed at them). */
  down: Set<HaMember>;
  withSsh: boolean;
}

/** One probe of availability: its span and whether the user could log in and connect. */
export interface Probe {
  start: number;
  end: number;
  ok: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function failed(res: { code: number; stdout: string; stderr: string }): Error {
  return new Error(errorLine(`${res.stderr}\n${res.stdout}`) + (res.code === 0 ? '' : ` (exit ${res.code})`));
}

async function attemptLogin(ctx: ClientContext, home: string): Promise<boolean> {
  return ctx.rec.time('tsh login', async () => {
    const res = await runTshAt(home, ['login', `--proxy=${ctx.cluster.lbAddr}`, '--user=alice', '--insecure'], { input: `${HA_PASSWORD}\n`, timeoutMs: OP_TIMEOUT_MS });
    if (res.code !== 0) throw failed(res);
    return { audit: { type: 'user.login', code: 'T1000I' } };
  });
}

async function attemptDbConnect(ctx: ClientContext, home: string, marker: string): Promise<boolean> {
  return ctx.rec.time('tsh db connect', async () => {
    const res = await runTshAt(home, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: `select '${marker}';\n`, timeoutMs: OP_TIMEOUT_MS });
    if (res.code !== 0 || !res.stdout.includes(marker)) throw failed(res);
    return { audit: { type: 'db.session.query', text: marker } };
  });
}

/** Once, then once more after a pause when the first attempt failed. */
async function withOneRetry(attempt: (n: number) => Promise<boolean>): Promise<boolean> {
  if (await attempt(1)) return true;
  await sleep(RETRY_PAUSE_MS);
  return attempt(2);
}

/** Probes back to back until stopped. */
export async function probeLoop(ctx: ClientContext, probes: Probe[]): Promise<void> {
  for (let n = 1; !ctx.stopping; n++) {
    const home = path.join(ctx.dir, `probe-${n}`);
    const start = ctx.rec.now();
    const login = await withOneRetry(() => attemptLogin(ctx, home));
    const db = login && (await withOneRetry((a) => attemptDbConnect(ctx, home, `probe-${n}-${a}`)));
    probes.push({ start, end: ctx.rec.now(), ok: login && db });
    await rm(home, { recursive: true, force: true });
  }
}

interface SessionState {
  proxy?: ChildProcess & { port?: number };
  client?: pg.Client;
}

async function openSession(ctx: ClientContext, state: SessionState): Promise<void> {
  if (state.proxy === undefined || state.proxy.exitCode !== null) {
    const { port, child } = await startLocalDbProxy(ctx.cluster.lbHome);
    state.proxy = Object.assign(child, { port });
  }
  const client = new pg.Client({ host: '127.0.0.1', port: state.proxy.port, user: 'alice', database: 'alice', ssl: false, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  state.client = client;
}

/** One long-lived session, a query every 100 ms; a failed query ends it and a new one is opened. */
export async function sessionLoop(ctx: ClientContext): Promise<void> {
  const state: SessionState = {};
  for (let n = 1; !ctx.stopping; n++) {
    if (state.client === undefined) {
      const opened = await ctx.rec.time('db session connect', () => openSession(ctx, state));
      if (!opened) {
        await sleep(500);
        continue;
      }
    }
    const marker = `q-${n}`;
    const ok = await ctx.rec.time('db session query', async () => {
      const res = await state.client!.query(`select '${marker}' as m`);
      if (res.rows[0]?.m !== marker) throw new Error(`unexpected answer ${JSON.stringify(res.rows)}`);
      return { audit: { type: 'db.session.query', text: marker } };
    });
    if (!ok) {
      await state.client!.end().catch(() => undefined);
      delete state.client;
    }
    await sleep(100);
  }
  await state.client?.end().catch(() => undefined);
  state.proxy?.kill('SIGKILL');
}

function pickMember(ctx: ClientContext, n: number): HaMember {
  const up = ctx.cluster.members.filter((m) => !ctx.down.has(m));
  return up.length > 0 ? up[n % up.length]! : ctx.cluster.members[n % ctx.cluster.members.length]!;
}

async function tctlWrite(ctx: ClientContext, n: number): Promise<void> {
  const member = pickMember(ctx, n).index;
  const tctl = (args: string[]) => ctx.cluster.tctl(args, { member, timeoutMs: OP_TIMEOUT_MS });
  const which = n % 3;
  if (which === 0) {
    const name = `soak-u-${n}`;
    await ctx.rec.time('tctl users add', async () => {
      const res = await tctl(['users', 'add', name, '--roles=access']);
      if (res.code !== 0) throw failed(res);
      return { audit: { type: 'user.create', text: name }, write: `user/${name}` };
    });
  } else if (which === 1) {
    const name = `soak-r-${n}`;
    const file = path.join(ctx.dir, `${name}.yaml`);
    await writeFile(file, ['kind: role', 'version: v7', 'metadata:', `  name: ${name}`, 'spec:', '  allow:', '    logins: [soak]', ''].join('\n'));
    await ctx.rec.time('tctl create role', async () => {
      const res = await tctl(['create', file]);
      if (res.code !== 0) throw failed(res);
      return { audit: { type: 'role.created', text: name }, write: `role/${name}` };
    });
  } else {
    const target = `soak-l-${n}`;
    await ctx.rec.time('tctl lock', async () => {
      const res = await tctl(['lock', `--user=${target}`, '--ttl=24h', `--message=${target}`]);
      const name = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(res.stdout)?.[0];
      if (res.code !== 0 || name === undefined) throw failed(res);
      return { audit: { type: 'lock.created', text: name }, write: `lock/${name}` };
    });
  }
}

/** tctl writes, one a second. */
export async function writeLoop(ctx: ClientContext): Promise<void> {
  for (let n = 0; !ctx.stopping; n++) {
    await tctlWrite(ctx, n);
    await sleep(1_000);
  }
}

/** `tsh ssh` to the node, one a second. */
export async function sshLoop(ctx: ClientContext): Promise<void> {
  for (let n = 1; !ctx.stopping; n++) {
    const marker = `ssh-${n}`;
    await ctx.rec.time('tsh ssh', async (): Promise<Partial<Op>> => {
      const res = await runTshAt(ctx.cluster.lbHome, ['ssh', '--insecure', 'root@soak-node', `true ${marker}`], { timeoutMs: OP_TIMEOUT_MS });
      if (res.code !== 0) throw failed(res);
      return { audit: { type: 'exec', text: marker } };
    });
    await sleep(1_000);
  }
}
