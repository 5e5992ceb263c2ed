import { hostname } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { BadParameterError } from '@teleport-ts/core/errors';
import {
  DEFAULT_AUTH_LISTEN_ADDR,
  DEFAULT_AUTH_PORT,
  DEFAULT_LOG_CONFIG,
  DEFAULT_PROXY_WEB_PORT,
  loadConfigFile,
  parseHostPort,
  type FileConfig,
} from '@teleport-ts/core/config';
import { newLogger } from './logger.js';
import { databaseFromFlags, resolveJoinToken } from './roles/db/index.js';
import { KNOWN_ROLES, startDatabaseWorker, startProcess, type ProcessConfig, type RoleName, type RunningProcess } from './process.js';
import { databaseWorkerIndex } from './roles/db/workers.js';

/** `teleport-ts start` flags, named as Teleport's. */
export interface StartFlags {
  config?: string;
  roles?: string;
  dataDir?: string;
  token?: string;
  authServer?: string;
  /** `--proxy-server`: join through the proxy (Teleport's v3 `teleport.proxy_server`); never with `--auth-server`. */
  proxyServer?: string;
  caPin?: string[];
  labels?: string;
  nodename?: string;
  diagAddr?: string;
  debug?: boolean;
  /** `--db-name`, `--db-protocol`, `--db-uri`, `--db-description`: one database for the db role (labels from `--labels`). */
  dbName?: string;
  dbProtocol?: string;
  dbUri?: string;
  dbDescription?: string;
  dbCaCertFile?: string;
}

/** Default data dir: `$TELEPORT_TS_DATA_DIR`, else `./.teleport-ts` (a local dir, so no root is needed). */
export function defaultDataDir(): string {
  return process.env['TELEPORT_TS_DATA_DIR'] ?? path.resolve('.teleport-ts');
}

const CA_PIN = /^sha256:[0-9a-f]{64}$/i;

/** `--labels=env=dev,team=db` as a mapping. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    if (!/^[A-Za-z0-9/._*-]{1,63}$/.test(key)) {
      throw new BadParameterError(`invalid label ${JSON.stringify(part.slice(0, 64))}`, { hint: 'use --labels=key=value,key2=value2' });
    }
    labels[key] = part.slice(eq + 1).trim();
  }
  return labels;
}

/** Roles from `--roles`, else from the config's `enabled` sections, else auth and proxy. */
function chooseRoles(flags: StartFlags, file: FileConfig | undefined): RoleName[] {
  if (flags.roles !== undefined) {
    const roles = flags.roles.split(',').map((r) => r.trim()).filter(Boolean);
    for (const r of roles) {
      if (!(KNOWN_ROLES as readonly string[]).includes(r)) {
        throw new BadParameterError(`unknown role ${JSON.stringify(r)}`, { hint: `roles are: ${KNOWN_ROLES.join(', ')}` });
      }
    }
    return [...new Set(roles)] as RoleName[];
  }
  if (!file) return ['auth', 'proxy'];
  const roles: RoleName[] = [];
  if (file.auth_service?.enabled !== false) roles.push('auth');
  if (file.proxy_service?.enabled !== false) roles.push('proxy');
  if (file.db_service?.enabled === true) roles.push('db');
  if (file.ssh_service?.enabled === true) roles.push('node');
  return roles;
}

/** Where invite links point: `proxy_service.public_addr`, else its web listen address, else `<nodename>:3080`. */
function proxyPublicAddr(file: FileConfig | undefined, nodename: string): string {
  const section = file?.proxy_service;
  const publicAddr = section?.public_addr?.[0];
  const { host, port } = parseHostPort(publicAddr ?? section?.web_listen_addr ?? `${nodename}:${DEFAULT_PROXY_WEB_PORT}`, DEFAULT_PROXY_WEB_PORT);
  const shown = host === '0.0.0.0' || host === '::' ? nodename : host;
  return `${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

/**
 * Where an agent joins: `--auth-server` or `--proxy-server` (one of them; either replaces both file keys), else
 * `teleport.auth_server` or `teleport.proxy_server`. Through a proxy, the auth API is reached by the proxy's
 * `teleport-auth` ALPN passthrough, so `authServer` is then the proxy too.
 */
function joinAddresses(flags: StartFlags, t: FileConfig['teleport']): { authServer?: string; proxyServer?: string } {
  if (flags.authServer !== undefined && flags.proxyServer !== undefined) {
    throw new BadParameterError('--auth-server and --proxy-server cannot be used together: pass the proxy with --proxy-server, or the auth server with --auth-server');
  }
  const fromFlags = flags.authServer !== undefined || flags.proxyServer !== undefined;
  const authServer = fromFlags ? flags.authServer : t.auth_server;
  const proxyServer = fromFlags ? flags.proxyServer : t.proxy_server;
  if (authServer !== undefined) parseHostPort(authServer, DEFAULT_AUTH_PORT);
  if (proxyServer !== undefined) parseHostPort(proxyServer, DEFAULT_PROXY_WEB_PORT);
  const joinAddr = authServer ?? proxyServer;
  return { ...(joinAddr !== undefined ? { authServer: joinAddr } : {}), ...(proxyServer !== undefined ? { proxyServer } : {}) };
}

/** `ssh_service`: labels from the file with `--labels` on top, dynamic labels, the direct listener. */
function sshServiceConfig(file: FileConfig | undefined, flagLabels: Record<string, string>): NonNullable<ProcessConfig['ssh']> {
  const section = file?.ssh_service ?? {};
  return {
    labels: { ...section.labels, ...flagLabels },
    commands: section.commands ?? [],
    ...(section.listen_addr !== undefined ? { listenAddr: section.listen_addr } : {}),
  };
}

/**
 * The process configuration from teleport.yaml and flags: flags win; with neither, auth (and proxy) on
 * sqlite in the local data dir.
 */
export async function buildProcessConfig(flags: StartFlags): Promise<{ config: ProcessConfig; file: FileConfig | undefined }> {
  const file = flags.config ? await loadConfigFile(flags.config) : undefined;
  const t = file?.teleport ?? {};
  const nodename = flags.nodename ?? t.nodename ?? hostname();
  const caPins = flags.caPin && flags.caPin.length > 0 ? flags.caPin : (t.ca_pin ?? []);
  for (const pin of caPins) {
    if (!CA_PIN.test(pin.trim())) throw new BadParameterError(`invalid CA pin ${JSON.stringify(pin.slice(0, 80))}`, { hint: 'a pin looks like sha256:<64 hex digits>; see `tctl status`' });
  }
  const joinAt = joinAddresses(flags, t);
  // Teleport's --token and auth_token are the token or the path of a file holding it.
  const token = await resolveJoinToken(flags.token ?? t.auth_token);
  const auth = file?.auth_service ?? {};
  const proxySection = file?.proxy_service ?? {};
  const labels = flags.labels ? parseLabels(flags.labels) : {};
  const flagDatabase = databaseFromFlags({
    ...(flags.dbName !== undefined ? { name: flags.dbName } : {}),
    ...(flags.dbProtocol !== undefined ? { protocol: flags.dbProtocol } : {}),
    ...(flags.dbUri !== undefined ? { uri: flags.dbUri } : {}),
    ...(flags.dbDescription !== undefined ? { description: flags.dbDescription } : {}),
    ...(flags.dbCaCertFile !== undefined ? { caCertFile: flags.dbCaCertFile } : {}),
    labels,
  });
  const databases = [...(file?.db_service?.databases ?? []), ...(flagDatabase ? [flagDatabase] : [])];
  const config: ProcessConfig = {
    roles: chooseRoles(flags, file),
    dataDir: path.resolve(flags.dataDir ?? t.data_dir ?? defaultDataDir()),
    nodename,
    storage: t.storage ?? { type: 'sqlite' },
    ...(flags.diagAddr ?? t.diag_addr ? { diagAddr: (flags.diagAddr ?? t.diag_addr)! } : {}),
    ...(t.connection_limits?.rate !== undefined ? { rateLimit: t.connection_limits.rate } : {}),
    ...(t.connection_limits?.maxPendingPerAddress !== undefined ? { maxPendingPerAddress: t.connection_limits.maxPendingPerAddress } : {}),
    auth: {
      listenAddr: auth.listen_addr ?? DEFAULT_AUTH_LISTEN_ADDR,
      publicAddrs: auth.public_addr ?? [],
      staticTokens: auth.tokens ?? [],
      ...(auth.cluster_name !== undefined ? { clusterName: auth.cluster_name } : {}),
      ...(auth.authentication !== undefined ? { authentication: auth.authentication } : {}),
      ...(auth.session_recording !== undefined ? { sessionRecording: auth.session_recording } : {}),
      ...(auth.tunnel_strategy !== undefined ? { tunnelStrategy: auth.tunnel_strategy } : {}),
      ...(auth.access_requests?.webhook !== undefined ? { accessRequestWebhook: { url: auth.access_requests.webhook.url, ...(auth.access_requests.webhook.ca_file ? { caFile: auth.access_requests.webhook.ca_file } : {}) } } : {}),
    },
    proxyPublicAddr: proxyPublicAddr(file, nodename),
    proxy: {
      ...(proxySection.web_listen_addr !== undefined ? { listenAddr: proxySection.web_listen_addr } : {}),
      publicAddrs: proxySection.public_addr ?? [proxyPublicAddr(file, nodename)],
      ...(proxySection.https_keypairs !== undefined ? { httpsKeyPairs: proxySection.https_keypairs } : {}),
      ...(proxySection.peer_listen_addr !== undefined ? { peerListenAddr: proxySection.peer_listen_addr } : {}),
      ...(proxySection.peer_public_addr !== undefined ? { peerPublicAddr: proxySection.peer_public_addr } : {}),
    },
    join: {
      ...(token !== undefined ? { token } : {}),
      ...joinAt,
      caPins,
      labels,
    },
    ...(databases.length > 0 ? { db: { databases, ...(file?.db_service?.workers != null ? { workers: file.db_service.workers } : {}) } } : {}),
    ssh: sshServiceConfig(file, labels),
  };
  return { config, file };
}

/** Step 2 of the banner: the invite, then `tsh login` against this host's proxy when it runs here. */
function loginStep(proc: RunningProcess): string[] {
  const step = '  2. Share the invite link it prints: the user opens it to set a password and an OTP device';
  if (!proc.proxy) return [`${step}.`];
  const { host, port } = parseHostPort(proc.proxy.addr, DEFAULT_PROXY_WEB_PORT);
  const local = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  const proxy = `${local.includes(':') ? `[${local}]` : local}:${port}`;
  return [`${step}, then logs in:`, `       tsh login --proxy=${proxy} --user=alice${proc.proxy.selfSigned ? ' --insecure' : ''}`];
}

/** The text `start` prints once the process is up: what runs, and what to do next. */
async function startupMessage(config: ProcessConfig, proc: RunningProcess): Promise<string> {
  const lines = [`teleport-ts: storage backend "${proc.backend.kind}" is up (data dir ${config.dataDir}).`];
  if (proc.auth) {
    const pins = await proc.auth.caPins();
    lines.push(
      `teleport-ts: auth service is up on ${proc.auth.addr} (cluster "${proc.auth.clusterName}").`,
      `teleport-ts: CA pin: ${pins.join(' ')}`,
      '',
      'Next steps:',
      `  1. Add a user (tctl on this host uses the admin identity in ${proc.auth.adminIdentityDir}):`,
      // The same command as docs/getting-started.md, which e2e/test/getting-started.test.ts runs.
      `       tctl users add alice --roles=access --db-users='*' --db-names='*'`,
      ...loginStep(proc),
      '  3. Let database agents join: this prints the command to run on the agent host:',
      '       tctl tokens add --type=db',
      '',
    );
  }
  if (proc.proxy) {
    lines.push(`teleport-ts: proxy service is up on ${proc.proxy.addr}: https://${proc.proxy.publicAddr}${proc.proxy.selfSigned ? ' (self-signed certificate: clients pass --insecure)' : ''}.`);
  }
  if (proc.db) {
    lines.push(`teleport-ts: database service is up (host ${proc.db.hostId}), serving ${proc.db.databases.map((d) => `"${d.name}" (${d.protocol}, ${d.uri})`).join(', ')}.`);
  }
  if (proc.pendingRoles.length > 0) {
    lines.push(
      `teleport-ts: roles ${proc.pendingRoles.join(', ')} are not implemented in this release yet${proc.auth ? '' : '; only the storage layer runs'}.`,
    );
  }
  if (proc.node) {
    lines.push(`teleport-ts: node service is up (host ${proc.node.hostId})${proc.node.listenAddr ? `, listening on ${proc.node.listenAddr}` : ', reached through the reverse tunnel (no listening port)'}.`);
  }
  if (proc.diag) lines.push(`teleport-ts: diagnostics on http://${proc.diag.addr} (/healthz, /readyz, /metrics).`);
  lines.push('teleport-ts: press Ctrl-C to stop.');
  return `${lines.join('\n')}\n`;
}

export function startCommand(): Command {
  return new Command('start')
    .description('Starts the Teleport service.')
    .option('-c, --config <path>', 'Path to a configuration file [teleport.yaml].')
    .option('--roles <roles>', 'Comma-separated list of roles to start with [auth,proxy].')
    .option('--data-dir <path>', 'Path to a directory where Teleport keeps its data.')
    .option('--token <token>', 'Invitation token or path to file with token value to register with an auth server.')
    .option('--auth-server <addr>', 'Address of the auth server [127.0.0.1:3025].')
    .option('--proxy-server <addr>', 'Address of the proxy server to join the cluster through (an agent without --auth-server).')
    .option('--ca-pin <pin>', 'CA pin to validate the auth server (can be repeated for multiple pins).', (v: string, prev: string[] = []) => [...prev, v])
    .option('--labels <labels>', 'Comma-separated list of labels for this node, for example env=dev,app=web.')
    .option('--nodename <name>', 'Name of this node, defaults to hostname.')
    .option('--diag-addr <addr>', 'Start diagnostic prometheus and healthz endpoint.')
    .option('--db-name <name>', 'Name of the proxied database.')
    .option('--db-protocol <protocol>', 'Proxied database protocol. Supported are: [postgres cockroachdb].')
    .option('--db-uri <uri>', 'Address the proxied database is reachable at.')
    .option('--db-description <text>', 'Description of the proxied database.')
    .option('--db-ca-cert-file <path>', 'Database CA certificate path.')
    .action(async (flags: StartFlags, cmd: Command) => {
      await runStart({ ...flags, debug: cmd.optsWithGlobals()['debug'] === true });
    });
}

/** Runs the process the flags describe until SIGINT/SIGTERM (`start` and `db start`). */
export async function runStart(flags: StartFlags): Promise<void> {
  const { config, file } = await buildProcessConfig(flags);
  const logConfig = { ...DEFAULT_LOG_CONFIG, ...file?.teleport.log, ...(flags.debug ? { severity: 'debug' as const } : {}) };
  const logger = newLogger(logConfig);
  let proc: { close(): Promise<void> };
  const worker = databaseWorkerIndex();
  try {
    if (worker === undefined) {
      const running = await startProcess(config, { logger });
      proc = running;
      process.stdout.write(await startupMessage(config, running));
    } else {
      proc = await startDatabaseWorker(config, { logger });
    }
  } catch (err) {
    await logger.close();
    throw err;
  }
  // Without listeners (no role runs yet), nothing else keeps the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signals = ['SIGINT', 'SIGTERM'] as const;
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info('shutting down', { signal });
      // A second signal while shutting down stops at once.
      for (const s of signals) {
        process.off(s, stop);
        process.once(s, () => process.exit(1));
      }
      resolve();
    };
    for (const s of signals) process.on(s, stop);
  });
  clearInterval(keepAlive);
  await proc.close();
  await logger.close();
  if (worker === undefined) process.stdout.write('teleport-ts: stopped.\n');
  // Everything was closed in order; a handle something still holds (a client of a session's socket, a child a login
  // left behind) must not keep a stopped process alive.
  setTimeout(() => process.exit(0), STOPPED_EXIT_GRACE_MS).unref();
}

/** How long a stopped process may take to leave on its own before it exits. */
const STOPPED_EXIT_GRACE_MS = 2_000;
