/**
 * The anchors of `pnpm bench db`: programs in C doing the same hops as the chain, so the chain's figures can be read
 * against what a native implementation of the same work reaches on the same cores in the same run.
 *
 * - haproxy chain: three haproxy processes (`nbthread 1` each) in the hop structure of tsh -> proxy -> agent, each
 *   terminating and re-originating TLS: plain -> TLS, TLS -> TLS (client certificates both ways), TLS -> plain.
 *   The last hop reaches PostgreSQL in plain TCP (haproxy cannot do PostgreSQL's in-protocol TLS upgrade), so
 *   PostgreSQL does a little less work there than behind the chain's agent.
 * - pgbouncer: one pgbouncer hop, TLS from the client (server certificate) and TLS to PostgreSQL with the
 *   db_client certificate, session pooling.
 *
 * Both come from Debian (`apt-get install -y haproxy pgbouncer`); the bench skips an anchor whose program is missing.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

import { findExecutable, freePort } from '@teleport-ts/testkit';
import { stopChild } from './_common.js';

/** A running anchor: where pgbench connects (a libpq conninfo) and the pids whose CPU is counted. */
export interface Anchor {
  conninfo: string;
  pids: (number | undefined)[];
  stop(): Promise<void>;
}

/** The PEM files both anchors use (made by `tctl auth sign --format=cockroachdb` and the db_client certificate). */
export interface AnchorCerts {
  /** Server certificate and key for `localhost`, and the CA that signed it (what clients verify). */
  serverCert: string;
  serverKey: string;
  serverCa: string;
  /** Client certificate and key (CN alice, db_client CA) and the CA that PostgreSQL checks it against. */
  clientCert: string;
  clientKey: string;
  clientCa: string;
}

function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null) return reject(new Error(`exited ${child.exitCode}: ${output()}`));
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} never opened: ${output()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function launch(file: string, args: string[], options: { uid?: number; gid?: number } = {}): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const stop = (): Promise<void> => stopChild(child, 5_000);
  return { child, output: () => out, stop };
}

const HAPROXY_GLOBAL = ['global', '  nbthread 1', '  maxconn 2000', 'defaults', '  mode tcp', '  timeout connect 10s', '  timeout client 1h', '  timeout server 1h'];

/**
 * Three haproxy processes: pgbench -> h1 (plain in, TLS out) -> h2 (TLS in and out) -> h3 (TLS in, plain out) ->
 * PostgreSQL. Each TLS hop verifies the server certificate and presents a client certificate, like the chain's hops.
 */
export async function startHaproxyChain(dir: string, certs: AnchorCerts, pgPort: number, conninfo: (port: number) => string): Promise<Anchor | undefined> {
  const haproxy = findExecutable('haproxy') ?? (findExecutable('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : undefined);
  if (haproxy === undefined) return undefined;
  const work = path.join(dir, 'haproxy');
  await mkdir(work, { recursive: true });
  const serverPem = path.join(work, 'server.pem');
  const clientPem = path.join(work, 'client.pem');
  await writeFile(serverPem, (await readFile(certs.serverCert, 'utf8')) + (await readFile(certs.serverKey, 'utf8')), { mode: 0o600 });
  await writeFile(clientPem, (await readFile(certs.clientCert, 'utf8')) + (await readFile(certs.clientKey, 'utf8')), { mode: 0o600 });
  const tlsOut = `ssl crt ${clientPem} ca-file ${certs.serverCa} verify required verifyhost localhost sni str(localhost)`;
  const tlsIn = `ssl crt ${serverPem} ca-file ${certs.clientCa} verify required`;
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  const hops = [
    { listen: p1, bind: '', server: `127.0.0.1:${p2} ${tlsOut}` },
    { listen: p2, bind: tlsIn, server: `127.0.0.1:${p3} ${tlsOut}` },
    { listen: p3, bind: tlsIn, server: `127.0.0.1:${pgPort}` },
  ];
  const procs: ReturnType<typeof launch>[] = [];
  for (const [i, hop] of hops.entries()) {
    const cfg = path.join(work, `h${i + 1}.cfg`);
    const lines = [...HAPROXY_GLOBAL, 'listen hop', `  bind 127.0.0.1:${hop.listen} ${hop.bind}`, `  server next ${hop.server}`, ''];
    await writeFile(cfg, lines.join('\n'));
    const p = launch(haproxy, ['-db', '-f', cfg]);
    procs.push(p);
    await waitForPort(hop.listen, p.child, p.output);
  }
  return { conninfo: conninfo(p1), pids: procs.map((p) => p.child.pid), stop: async () => void (await Promise.all(procs.map((p) => p.stop()))) };
}

function unprivileged(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** One pgbouncer: TLS from pgbench (server certificate) and TLS to PostgreSQL (the db_client certificate). */
export async function startPgbouncer(workDir: string, certs: AnchorCerts, pgPort: number, conninfo: (port: number) => string): Promise<Anchor | undefined> {
  const pgbouncer = findExecutable('pgbouncer') ?? (findExecutable('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : undefined);
  if (pgbouncer === undefined) return undefined;
  // pgbouncer refuses to run as root: as root it runs as `postgres`, with its files in a directory that account reads.
  const account = unprivileged();
  await mkdir(workDir, { recursive: true });
  await chmod(workDir, 0o755);
  const files: Record<string, string> = {};
  for (const [name, from] of Object.entries({ 'server.crt': certs.serverCert, 'server.key': certs.serverKey, 'ca.crt': certs.serverCa, 'client.crt': certs.clientCert, 'client.key': certs.clientKey })) {
    const to = path.join(workDir, name);
    await writeFile(to, await readFile(from), { mode: 0o600 });
    if (account !== undefined) await chown(to, account.uid, account.gid);
    files[name] = to;
  }
  const port = await freePort();
  const users = path.join(workDir, 'users.txt');
  await writeFile(users, '"alice" ""\n');
  const ini = path.join(workDir, 'pgbouncer.ini');
  const lines = [
    '[databases]',
    `bench = host=localhost port=${pgPort} dbname=bench`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${users}`,
    'pool_mode = session',
    'max_client_conn = 1000',
    'default_pool_size = 100',
    'client_tls_sslmode = require',
    `client_tls_cert_file = ${files['server.crt']}`,
    `client_tls_key_file = ${files['server.key']}`,
    'server_tls_sslmode = verify-full',
    `server_tls_ca_file = ${files['ca.crt']}`,
    `server_tls_cert_file = ${files['client.crt']}`,
    `server_tls_key_file = ${files['client.key']}`,
    'ignore_startup_parameters = extra_float_digits',
    '',
  ];
  await writeFile(ini, lines.join('\n'));
  const p = launch(pgbouncer, ['-q', ini], account ?? {});
  await waitForPort(port, p.child, p.output);
  return { conninfo: conninfo(port), pids: [p.child.pid], stop: p.stop };
}
