/**
 * The high-availability layout with the built programs, shared by `e2e/test/ha.test.ts` and `pnpm soak`: three
 * `teleport-ts start` processes (auth + proxy each) on one PostgreSQL backend behind haproxy in TCP mode (as the
 * seed's NLB), a user `alice` (password, no second factor) logged in through haproxy, a real PostgreSQL served by a
 * db agent given only the haproxy address (`teleport.proxy_server`), and optionally an SSH node joined the same way.
 * Every process can be killed with `kill -9` and started again on the same configuration.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { agentConfigLines, roachService } from './configs.js';
import { startCertDatabase } from './dbtarget.js';
import type { PostgresServer } from './postgres.js';
import { completeInviteWithoutMfa, freePort, repoBin, runProgram, runTshAt, startDaemonProcess, waitUntil, type Daemon, type ProgramResult } from './processes.js';
import { findExecutable } from './tools.js';

export const HA_PASSWORD = 'correct horse battery staple';
const HA_CLUSTER = 'ha.example.com';

/** One auth+proxy process of the cluster; `restart` starts it again (after a kill) on the same configuration. */
export interface HaMember {
  index: number;
  config: string;
  proxyAddr: string;
  diagAddr: string;
  hostId: string;
  daemon: Daemon;
  restart(): Promise<void>;
}

/** A joined agent (db or node): its process, restartable on its configuration (the identity is in its data dir). */
export interface HaAgent {
  daemon: Daemon;
  diagAddr: string;
  restart(): Promise<void>;
}

export interface HaCluster {
  dir: string;
  /** The backend PostgreSQL (the caller's). */
  backend: PostgresServer;
  members: HaMember[];
  lbAddr: string;
  lb: ChildProcess;
  /** The database the agent serves as `roach` (`--db-user=alice`, database `alice`). */
  target: PostgresServer;
  agent: HaAgent;
  /** Every db agent serving `roach` (`agent` first; more with `dbAgents`), as Teleport runs several for HA. */
  agents: HaAgent[];
  /** The SSH node `soak-node` (login `root`), when asked for. */
  node?: HaAgent;
  /** TELEPORT_HOME logged in through haproxy, and one per proxy (logged in directly at it). */
  lbHome: string;
  memberHomes: string[];
  /** The proxies the agent (`agents[index]`, default the first) reports holding tunnels to (its last log line about it). */
  agentProxies(index?: number): string[];
  /** `bin/tctl -c <config of member i>` (default the first member whose process runs). */
  tctl(args: string[], options?: { member?: number; timeoutMs?: number; input?: string }): Promise<ProgramResult>;
  stop(): Promise<void>;
}

export interface StartHaClusterOptions {
  backend: PostgresServer;
  /** More `auth_service` lines (e.g. a `tunnel_strategy:` block), indented two spaces. */
  strategy?: string[];
  /** Also join an SSH node through haproxy. */
  node?: boolean;
  /** Log each member in directly (`memberHomes`); default true. */
  memberLogins?: boolean;
  /** How many db agents serve `roach` (default 1). */
  dbAgents?: number;
}

/** What `clusterMemberConfig` writes: one auth+proxy process of a cluster on a PostgreSQL backend, with proxy peering. */
export interface ClusterMemberConfig {
  dir: string;
  index: number;
  /** `nodename: <namePrefix>-<index>`; the data dir is `<dir>/data-<index>`. */
  namePrefix: string;
  cluster: string;
  /** Connection strings of the backend and audit databases. */
  backend: string;
  audit: string;
  ports: { auth: number; proxy: number; peer: number; diag?: number };
  /** More `teleport:` lines (log, connection_limits), indented two spaces. */
  teleport?: string[];
  /** More `auth_service:` lines (e.g. a `tunnel_strategy:` block), indented two spaces. */
  auth?: string[];
  publicAddr?: string;
}

/** The YAML of one auth+proxy process (no second factor): the HA layout's members and `pnpm bench scale`'s. */
export function clusterMemberConfig(o: ClusterMemberConfig): string {
  return [
    'version: v3',
    'teleport:',
    `  nodename: ${o.namePrefix}-${o.index}`,
    `  data_dir: ${path.join(o.dir, `data-${o.index}`)}`,
    ...(o.ports.diag !== undefined ? [`  diag_addr: 127.0.0.1:${o.ports.diag}`] : []),
    ...(o.teleport ?? []),
    '  storage:',
    '    type: postgres',
    `    conn_string: ${o.backend}`,
    `    audit_events_uri: ['${o.audit}']`,
    'auth_service:',
    '  enabled: yes',
    `  listen_addr: 127.0.0.1:${o.ports.auth}`,
    `  cluster_name: ${o.cluster}`,
    '  authentication:',
    '    second_factor: off',
    ...(o.auth ?? []),
    'proxy_service:',
    '  enabled: yes',
    `  web_listen_addr: 127.0.0.1:${o.ports.proxy}`,
    ...(o.publicAddr !== undefined ? [`  public_addr: ${o.publicAddr}`] : []),
    `  peer_listen_addr: 127.0.0.1:${o.ports.peer}`,
    '',
  ].join('\n');
}

/** haproxy in TCP mode, round robin, health-checked on each process's proxy readiness (/readyz?service=proxy: up while the backend is down, the proxy serving from its cache), redispatching a refused connection. */
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
    '  option httpchk GET /readyz?service=proxy',
    '  default-server inter 500ms fall 2 rise 2',
    ...members.map((m, i) => `  server p${i} 127.0.0.1:${m.proxy} check port ${m.diag}`),
    '',
  ].join('\n');
}

async function startMember(o: { dir: string; index: number; backend: string; audit: string; lbAddr: string; strategy: string[] }): Promise<{ member: HaMember; ports: { proxy: number; diag: number } }> {
  const ports = { auth: await freePort(), proxy: await freePort(), diag: await freePort(), peer: await freePort() };
  const config = path.join(o.dir, `teleport-${o.index}.yaml`);
  await writeFile(config, clusterMemberConfig({ ...o, ports, namePrefix: 'ha', cluster: HA_CLUSTER, auth: o.strategy, publicAddr: o.lbAddr }));
  const daemon = await startDaemonProcess(['start', '-c', config]);
  const hostId = (await readFile(path.join(o.dir, `data-${o.index}`, 'host_uuid'), 'utf8')).trim();
  const member: HaMember = {
    index: o.index,
    config,
    proxyAddr: `127.0.0.1:${ports.proxy}`,
    diagAddr: `127.0.0.1:${ports.diag}`,
    hostId,
    daemon,
    async restart() {
      member.daemon = await startDaemonProcess(['start', '-c', config]);
    },
  };
  return { member, ports };
}

async function startMembers(dir: string, pg: PostgresServer, lbAddr: string, strategy: string[]): Promise<{ members: HaMember[]; ports: { proxy: number; diag: number }[] }> {
  const db = `teleport_${path.basename(dir).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
  await pg.createDatabase(db);
  await pg.createDatabase(`${db}_audit`);
  const backend = pg.url(db, { sslmode: 'disable' });
  const audit = pg.url(`${db}_audit`, { sslmode: 'disable' });
  const members: HaMember[] = [];
  const ports: { proxy: number; diag: number }[] = [];
  // One after the other: the first creates the cluster (CAs), the others find it in the backend.
  for (let index = 0; index < 3; index++) {
    const started = await startMember({ dir, index, backend, audit, lbAddr, strategy });
    members.push(started.member);
    ports.push(started.ports);
  }
  return { members, ports };
}

/** `tsh login` as alice at `proxyAddr` into `home`. */
export async function haLogin(home: string, proxyAddr: string): Promise<void> {
  const res = await runTshAt(home, ['login', `--proxy=${proxyAddr}`, '--user=alice', '--insecure'], { input: `${HA_PASSWORD}\n` });
  if (res.code !== 0) throw new Error(`tsh login --proxy=${proxyAddr} failed: ${res.stderr}`);
}

/** An agent's configuration: joined through haproxy with a fresh token and the CA pin, running `services`. */
async function agentConfig(o: { dir: string; tctlConfig: string; lbAddr: string; name: string; type: 'db' | 'node'; diagAddr: string; services: string[] }): Promise<string[]> {
  const tokenOut = await runProgram(repoBin('tctl'), ['-c', o.tctlConfig, 'tokens', 'add', `--type=${o.type}`, '--format=json']);
  if (tokenOut.code !== 0) throw new Error(tokenOut.stderr);
  const token = (JSON.parse(tokenOut.stdout) as { token: string }).token;
  const status = await runProgram(repoBin('tctl'), ['-c', o.tctlConfig, 'status', '--format=json']);
  const pin = (JSON.parse(status.stdout) as { cluster: { ca_pins: string[] } }).cluster.ca_pins[0]!;
  const teleport = [`  proxy_server: ${o.lbAddr}`, `  diag_addr: ${o.diagAddr}`, `  auth_token: ${token}`, `  ca_pin: ${pin}`];
  return agentConfigLines({ name: o.name, dataDir: path.join(o.dir, `${o.name}-data`), teleport, services: o.services });
}

async function startAgentProcess(dir: string, name: string, lines: string[], diagAddr: string): Promise<HaAgent> {
  const config = path.join(dir, `${name}.yaml`);
  await writeFile(config, [...lines, ''].join('\n'));
  const agent: HaAgent = {
    daemon: await startDaemonProcess(['start', '-c', config]),
    diagAddr,
    async restart() {
      agent.daemon = await startDaemonProcess(['start', '-c', config]);
    },
  };
  return agent;
}

async function startDbAgent(dir: string, tctlConfig: string, lbAddr: string, target: PostgresServer, name = 'db-agent'): Promise<HaAgent> {
  const diagAddr = `127.0.0.1:${await freePort()}`;
  const services = roachService({ port: target.port, caFile: path.join(dir, 'roach-certs', 'ca.crt') });
  return startAgentProcess(dir, name, await agentConfig({ dir, tctlConfig, lbAddr, name, type: 'db', diagAddr, services }), diagAddr);
}

async function startSshNode(dir: string, tctlConfig: string, lbAddr: string): Promise<HaAgent> {
  const diagAddr = `127.0.0.1:${await freePort()}`;
  const services = ['ssh_service:', '  enabled: yes'];
  return startAgentProcess(dir, 'soak-node', await agentConfig({ dir, tctlConfig, lbAddr, name: 'soak-node', type: 'node', diagAddr, services }), diagAddr);
}

function startHaproxy(dir: string, config: string): { lb: ChildProcess; output(): string } {
  const haproxy = findExecutable('haproxy');
  if (haproxy === undefined) throw new Error('haproxy is not installed (Debian package haproxy)');
  const lb = spawn(haproxy, ['-f', config, '-db'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  lb.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  lb.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return { lb, output: () => out };
}

/** Users and agents come in through haproxy once it routes: alice (role access, any db user, login root). */
async function addAlice(tctlConfig: string, lbAddr: string, lbOutput: () => string): Promise<void> {
  const invite = await runProgram(repoBin('tctl'), ['-c', tctlConfig, 'users', 'add', 'alice', '--roles=access', '--db-users=*', '--db-names=*', '--logins=root']);
  const url = /https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(invite.stdout)?.[0];
  if (url === undefined) throw new Error(`no invite in ${invite.stdout}${invite.stderr}`);
  if (!url.includes(lbAddr)) throw new Error(`the invite ${url} does not name the public address ${lbAddr}`);
  await waitUntil('haproxy', async () => completeInviteWithoutMfa(url, HA_PASSWORD).then(() => true, () => undefined), 20_000, lbOutput);
}

/** Starts the whole layout; see the module comment. */
export async function startHaCluster(options: StartHaClusterOptions): Promise<HaCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-ha-'));
  const lbPort = await freePort();
  const lbAddr = `127.0.0.1:${lbPort}`;
  const { members, ports } = await startMembers(dir, options.backend, lbAddr, options.strategy ?? []);
  const lbConfig = path.join(dir, 'haproxy.cfg');
  await writeFile(lbConfig, haproxyConfig(lbPort, ports));
  const { lb, output: lbOutput } = startHaproxy(dir, lbConfig);
  const first = members[0]!;
  await addAlice(first.config, lbAddr, lbOutput);
  const lbHome = path.join(dir, 'home-lb');
  await haLogin(lbHome, lbAddr);
  const memberHomes = members.map((m) => path.join(dir, `home-${m.index}`));
  if (options.memberLogins !== false) for (const [i, m] of members.entries()) await haLogin(memberHomes[i]!, m.proxyAddr);
  const target = await startCertDatabase(first.config, path.join(dir, 'roach-certs'));
  const agents: HaAgent[] = [];
  for (let i = 0; i < (options.dbAgents ?? 1); i++) agents.push(await startDbAgent(dir, first.config, lbAddr, target, i === 0 ? 'db-agent' : `db-agent-${i + 1}`));
  const node = options.node ? await startSshNode(dir, first.config, lbAddr) : undefined;
  return assembleCluster({ dir, backend: options.backend, members, lbAddr, lb, target, agent: agents[0]!, agents, lbHome, memberHomes, ...(node ? { node } : {}) });
}

function assembleCluster(parts: Omit<HaCluster, 'agentProxies' | 'tctl' | 'stop'>): HaCluster {
  const { members, agents, node, lb, target, dir } = parts;
  const alive = (m: HaMember): boolean => m.daemon.child.exitCode === null && m.daemon.child.signalCode === null;
  return {
    ...parts,
    agentProxies: (index = 0) => {
      const all = [...agents[index]!.daemon.output().matchAll(/reverse tunnels are up proxies:(\S*)/g)];
      return (all.at(-1)?.[1] ?? '').split(',').filter((s) => s !== '');
    },
    tctl(args, opts = {}) {
      const member = opts.member !== undefined ? members[opts.member]! : (members.find(alive) ?? members[0]!);
      return runProgram(repoBin('tctl'), ['-c', member.config, ...args], { ...(opts.input !== undefined ? { input: opts.input } : {}), timeoutMs: opts.timeoutMs ?? 60_000 });
    },
    async stop() {
      await node?.daemon.stop();
      for (const a of agents) await a.daemon.stop();
      for (const m of members) await m.daemon.stop();
      lb.kill('SIGKILL');
      await target.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `tsh proxy db --tunnel` (tsh's local proxy, the code `tsh db connect` uses) to `roach` as `user`, for `home`'s proxy: its port and process. */
export async function startLocalDbProxy(home: string, user = 'alice'): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(repoBin('tsh'), ['proxy', 'db', '--insecure', '--tunnel', `--db-user=${user}`, 'roach'], {
    env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let banner = '';
  child.stdout!.on('data', (b: Buffer) => (banner += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (banner += b.toString()));
  const port = await waitUntil('tsh proxy db', () => /on 127\.0\.0\.1:(\d+)\./.exec(banner)?.[1], 20_000, () => banner);
  return { port: Number(port), child };
}
