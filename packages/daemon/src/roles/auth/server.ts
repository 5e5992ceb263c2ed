/**
 * The auth server: HTTPS with mutual TLS on `auth_service.listen_addr`. Its certificate is a host
 * certificate (CN `<host-uuid>.<cluster>`, system role Auth) sent with the host CA certificate, so joining
 * agents can check the CA pin. Client certificates are requested, not required by TLS: the router
 * identifies each caller from its certificate, and every route but join, ping and user tokens refuses
 * callers without a valid one.
 */

import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AUTH_SERVER_NAME, writeIdentity, type Identity, type SessionRecordingMode } from '@teleport-ts/core/api';
import type { AuditEventStore } from '@teleport-ts/core/audit';
import type { Backend, Watcher } from '@teleport-ts/core/backend';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { DEFAULT_AUTH_LISTEN_ADDR, DEFAULT_AUTH_PORT, parseHostPort, type AuthenticationConfig, type StaticToken, type TunnelStrategyConfig } from '@teleport-ts/core/config';
import { BALANCED_V1, caPin, generateKeyPair, issueHostCert, nextCaCheckDelayMs, splitHosts, tlsSigningKeyPair, trustedTlsCerts } from '@teleport-ts/core/ca';
import { redact } from '@teleport-ts/core/errors';
import type { SystemRole } from '@teleport-ts/core/types';
import {
  DEFAULT_MAX_PENDING_PER_ADDRESS,
  DEFAULT_PRE_AUTH_DEADLINES,
  guardListeningServer,
  newPendingConnections,
  type PreAuthDeadlines,
} from '../../http/deadlines.js';
import { listenOrExplain } from '../../http/listen.js';
import { newRouter } from '../../http/router.js';
import { DEFAULT_UNAUTHENTICATED_RATE_LIMIT, newRateLimiter } from '../../http/ratelimit.js';
import { nopLogger, type Logger } from '../../logger.js';
import { newIdentifier, type Caller, type ClientTrust } from './authz.js';
import { boundedExpiry, HOST_CERT_TTL_MS } from './certs.js';
import { startAuthCache, type AuthCacheSettings } from './cache.js';
import type { BackendCache } from '@teleport-ts/core/cache';
import { newAuthContext, type AuthContext } from './context.js';
import { initCluster, loadOrCreateHostUuid } from './init.js';
import { advanceAutoRotations } from './resources.js';
import { notifyTrustFollowers } from './instances.js';
import { openSessionRecordingStore, type SessionRecordingStore } from './recording-store.js';
import { registerAuthRoutes } from './routes.js';
import { newWebhookNotifier } from './webhook.js';

/** Directory of the local admin identity inside the data dir (what tctl on the auth host uses). */
const ADMIN_IDENTITY_DIR = 'admin';

/** How long in-flight requests may take to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface AuthServerOptions {
  backend: Backend;
  audit: AuditEventStore;
  /** Holds `host_uuid` and the admin identity (`admin/`). */
  dataDir: string;
  nodename: string;
  /** `auth_service.cluster_name`; default the node name. Stored once; later starts read it back. */
  clusterName?: string;
  /** `host:port`; default `0.0.0.0:3025`. Port 0 picks a free port. */
  listenAddr?: string;
  /** More names for the server certificate (`auth_service.public_addr`). */
  publicAddrs?: readonly string[];
  /** Where invite links point (`proxy_service.public_addr`); default `<nodename>:3080`. */
  proxyPublicAddr?: string;
  staticTokens?: readonly StaticToken[];
  authentication?: AuthenticationConfig;
  clock?: Clock;
  logger?: Logger;
  /** Unauthenticated endpoints' per-address limit; default {@link DEFAULT_UNAUTHENTICATED_RATE_LIMIT}. */
  rateLimit?: { average: number; burst: number };
  /** How often automatic CA rotations are moved along, ms; 0 disables. Default one minute. */
  rotationCheckIntervalMs?: number;
  /**
   * Deadlines before a client sent its request (tests shorten them); default {@link DEFAULT_PRE_AUTH_DEADLINES}, with
   * idle kept-alive connections kept 90 s (agents heartbeat every 60 s).
   */
  deadlines?: Partial<PreAuthDeadlines>;
  /**
   * Connections per source address before their first request head; default {@link DEFAULT_MAX_PENDING_PER_ADDRESS}.
   * Clients that come through a proxy's `teleport-auth` passthrough share the proxy's address.
   */
  maxPendingPerAddress?: number;
  /** `auth_service.access_requests.webhook`: POST access request events there. */
  accessRequestWebhook?: { url: string; caFile?: string };
  /** `auth_service.session_recording`; default `node`. */
  sessionRecording?: SessionRecordingMode;
  /** `teleport.storage.audit_sessions_uri` (`file://...`); default `file://<data_dir>/log/records`. */
  auditSessionsUri?: string;
  /** The cache of hot resources (see `./cache.ts`): tuning for tests, or `false` to read everything from the backend. */
  cache?: AuthCacheSettings | false;
  /** `auth_service.tunnel_strategy`; default agent mesh. */
  tunnelStrategy?: TunnelStrategyConfig;
}

export interface AuthServer {
  /** `host:port` the API listens on. */
  readonly addr: string;
  /** `host:port` local clients dial (`127.0.0.1:<port>` when listening on all addresses). */
  readonly dialAddr: string;
  readonly clusterName: string;
  readonly hostUuid: string;
  /** `<data_dir>/admin`: the admin identity written at start. */
  readonly adminIdentityDir: string;
  /** `sha256:` pins of the host CA (what agents pass as `--ca-pin`). */
  caPins(): Promise<string[]>;
  /** The operations, for embedding and tests. */
  readonly context: AuthContext;
  /** The cache of hot resources, unless turned off. */
  readonly cache?: BackendCache;
  /**
   * Serves a connection accepted elsewhere, its TLS ClientHello unread (a proxy in this process passing
   * `teleport-auth` through): the same limits, deadlines and TLS as on the API's own port, by the client's own
   * address, without a loopback hop.
   */
  acceptConnection(socket: Socket): void;
  /** Stops accepting, lets in-flight requests finish (up to a grace period), stops the watcher. */
  close(): Promise<void>;
}

/** The names on the auth server's certificate. */
function serverNames(options: AuthServerOptions, listenHost: string): { dnsNames: readonly string[]; ipAddresses: readonly string[] } {
  const hosts = new Set<string>([AUTH_SERVER_NAME, `*.${AUTH_SERVER_NAME}`, 'localhost', '127.0.0.1', '::1', options.nodename, hostname()]);
  if (listenHost !== '0.0.0.0' && listenHost !== '::' && listenHost !== '') hosts.add(listenHost);
  for (const addr of options.publicAddrs ?? []) hosts.add(parseHostPort(addr, DEFAULT_AUTH_PORT).host);
  return splitHosts([...hosts].filter((h) => /^[A-Za-z0-9*][A-Za-z0-9.*:_-]*$/.test(h)));
}

/**
 * Initialises the cluster (first start: cluster name, CAs, preset roles, auth preference), starts the
 * HTTPS API and writes the local admin identity to `<data_dir>/admin`.
 *
 * @example
 * ```ts
 * const auth = await startAuthServer({ backend, audit, dataDir, nodename: 'auth-1', listenAddr: '127.0.0.1:0' });
 * const client = newAuthClient({ addr: auth.dialAddr, identity: await loadIdentity(auth.adminIdentityDir) });
 * ```
 */
export async function startAuthServer(options: AuthServerOptions): Promise<AuthServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? nopLogger;
  const listen = parseHostPort(options.listenAddr ?? DEFAULT_AUTH_LISTEN_ADDR, DEFAULT_AUTH_PORT);
  const hostUuid = await loadOrCreateHostUuid(options.dataDir);
  const clusterName = await initCluster({
    backend: options.backend,
    clock,
    logger,
    clusterName: options.clusterName ?? options.nodename,
    clusterNameFromConfig: options.clusterName !== undefined,
    ...(options.authentication ? { authentication: options.authentication } : {}),
  });
  const webhook = await startWebhook(options, clusterName, logger);
  const cache = options.cache === false ? undefined : await startAuthCache(options.backend, logger, options.cache);
  const ctx = newAuthContext({
    ...(webhook ? { onAccessRequest: webhook.notify } : {}),
    ...(cache ? { cache } : {}),
    backend: options.backend,
    audit: options.audit,
    clock,
    logger,
    clusterName,
    hostUuid,
    proxyPublicAddr: options.proxyPublicAddr ?? `${options.nodename}:3080`,
    staticTokens: options.staticTokens ?? [],
    ...(await configuredOptions(options)),
    onTrustChanged: () => scheduleRefresh(s),
  });
  const s: AuthServerState = {
    options,
    clock,
    logger,
    listen,
    ctx,
    server: undefined,
    trust: { clusterName, hostCaCerts: [], userCaCerts: [] },
    own: undefined,
    refreshing: undefined,
    refreshAgain: false,
    writeAdminIdentity: undefined,
    watcher: undefined,
    closeStreams: () => {},
    closed: false,
    closeCache: () => cache?.close() ?? Promise.resolve(),
  };
  const srv = createApiServer(s, await loadCredentials(s));
  s.server = srv;
  const { addr, dialAddr } = await listenOn(srv, s.listen);
  const background = startBackgroundWork(s);
  const close = () => closeAuthServer(s, srv, background);

  const adminIdentityDir = path.join(options.dataDir, ADMIN_IDENTITY_DIR);
  // The local admin identity tctl on this host uses, as Teleport's tctl uses the auth server's.
  s.writeAdminIdentity = async () => writeIdentity(adminIdentityDir, await issueLocalHostIdentity(ctx, 'Admin', dialAddr));
  try {
    await s.writeAdminIdentity();
  } catch (err) {
    await close();
    throw err;
  }
  logger.info('auth service is up', { addr, cluster: clusterName, host_uuid: hostUuid });
  return {
    addr,
    dialAddr,
    clusterName,
    hostUuid,
    adminIdentityDir,
    context: ctx,
    ...(cache ? { cache } : {}),
    acceptConnection: (socket) => void (s.closed ? socket.destroy() : srv.emit('connection', socket)),
    caPins: async () => trustedTlsCerts(await ctx.certAuthority('host')).map(caPin),
    async close() {
      if (s.closed) return;
      await close();
      await webhook?.close();
      logger.info('auth service stopped');
    },
  };
}

/**
 * The auth context's configured parts: the session recording store (`teleport.storage.audit_sessions_uri`) and mode,
 * and the tunnel strategy.
 */
async function configuredOptions(
  options: AuthServerOptions,
): Promise<{ recordings: SessionRecordingStore; sessionRecording?: SessionRecordingMode; tunnelStrategy?: TunnelStrategyConfig }> {
  const recordings = await openSessionRecordingStore({ uri: options.auditSessionsUri, dataDir: options.dataDir });
  return {
    recordings,
    ...(options.sessionRecording !== undefined ? { sessionRecording: options.sessionRecording } : {}),
    ...(options.tunnelStrategy ? { tunnelStrategy: options.tunnelStrategy } : {}),
  };
}

/** The access request webhook notifier, when `auth_service.access_requests.webhook` is set. */
async function startWebhook(options: AuthServerOptions, clusterName: string, logger: Logger): Promise<ReturnType<typeof newWebhookNotifier> | undefined> {
  const hook = options.accessRequestWebhook;
  if (!hook) return undefined;
  return newWebhookNotifier({ url: hook.url, clusterName, logger, ...(hook.caFile !== undefined ? { ca: await readFile(hook.caFile, 'utf8') } : {}) });
}

/** A running auth server's state, shared by the steps below. */
interface AuthServerState {
  readonly options: AuthServerOptions;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly listen: { host: string; port: number };
  readonly ctx: AuthContext;
  server: Server | undefined;
  /** What the identifier checks client certificates against; replaced when a CA changes. */
  trust: ClientTrust;
  /** The server's certificate and the CA certificate that signed it. */
  own: { key: string; cert: string; issuer: string } | undefined;
  /** The credentials reload in progress, and whether another was asked for meanwhile. */
  refreshing: Promise<void> | undefined;
  refreshAgain: boolean;
  /** Set once the server listens (the identity names the address to dial). */
  writeAdminIdentity: (() => Promise<void>) | undefined;
  watcher: Watcher | undefined;
  /** Ends the open API streams (the access request watch), so that shutdown does not wait for them. */
  closeStreams: () => void;
  closed: boolean;
  closeCache: () => Promise<void>;
  /** A CA changed (seen on the watch): look at automatic rotations again. */
  onCaChanged?: () => void;
}

/**
 * Loads the CAs: the client trust the identifier checks against, and the server's credentials. As in
 * Teleport, the server keeps its certificate while a rotation updates clients and takes one from the new
 * key once servers update (or when its issuer is no longer trusted).
 */
async function loadCredentials(s: AuthServerState): Promise<{ key: string; cert: string; ca: string[] }> {
  const { ctx, options } = s;
  const clusterName = ctx.clusterName;
  // From the backend, not the cache: this runs on the CA watcher's event, which may be ahead of the cache's.
  const read = async (type: 'host' | 'user') => (await ctx.trust.getCertAuthority(type, clusterName)).ca;
  const [hostCa, userCa] = await Promise.all([read('host'), read('user')]);
  s.trust = { clusterName, hostCaCerts: trustedTlsCerts(hostCa), userCaCerts: trustedTlsCerts(userCa) };
  const signing = tlsSigningKeyPair(hostCa);
  const keep =
    s.own !== undefined &&
    s.trust.hostCaCerts.includes(s.own.issuer) &&
    (s.own.issuer === signing.cert || hostCa.spec.rotation.phase === 'update_clients');
  if (!keep) {
    const keys = await generateKeyPair(BALANCED_V1['tls-host']);
    const cert = await issueHostCert({
      ca: signing,
      publicKey: keys.publicKeyPem,
      hostId: ctx.hostUuid,
      clusterName,
      systemRole: 'Auth',
      ...serverNames(options, s.listen.host),
      expires: boundedExpiry(ctx, hostCa, HOST_CERT_TTL_MS),
      clock: s.clock,
    });
    s.own = { key: keys.privateKeyPem, cert, issuer: signing.cert };
  }
  const { key, cert, issuer } = s.own!;
  // The issuing host CA in the chain lets joining agents check it against their CA pin.
  return { key, cert: `${cert.trimEnd()}\n${issuer}`, ca: [...s.trust.hostCaCerts, ...s.trust.userCaCerts] };
}

/** Reloads trust and the server certificate after a CA changed; coalesces bursts of changes. */
function scheduleRefresh(s: AuthServerState): void {
  if (s.closed) return;
  if (s.refreshing) {
    s.refreshAgain = true;
    return;
  }
  s.refreshing = loadCredentials(s)
    .then(async (secure) => {
      s.server?.setSecureContext(secure);
      // Rotations change what the admin identity must trust and be signed by: keep tctl on this host working.
      await s.writeAdminIdentity?.();
    })
    .catch((err: unknown) => s.logger.error('failed to reload certificate authorities', { error: redact((err as Error).message) }))
    .finally(() => {
      s.refreshing = undefined;
      if (s.refreshAgain) {
        s.refreshAgain = false;
        scheduleRefresh(s);
      }
    });
}

/**
 * How long an idle kept-alive connection stays open: longer than the agents' 60 s heartbeat period and `core/api`'s
 * 75 s idle client sockets, so that a heartbeat reuses its connection (a TLS handshake costs both ends far more than
 * a request) and a server close never races a client's reuse.
 */
const AUTH_KEEP_ALIVE_MS = 90_000;

/** The HTTPS server: routes, rate limiter, per-request caller identification and request logging. */

function createApiServer(s: AuthServerState, initialCredentials: { key: string; cert: string; ca: string[] }): Server {
  const { ctx, clock, logger, options } = s;
  const router = newRouter<Caller>((err, req) => {
    logger.error('internal error', { method: req.method, path: req.path, error: redact(err instanceof Error ? err.message : String(err)) });
    if (err instanceof Error && err.stack) logger.debug('internal error stack', { stack: redact(err.stack) });
  });
  const limiter = newRateLimiter({ ...(options.rateLimit ?? DEFAULT_UNAUTHENTICATED_RATE_LIMIT), clock });
  registerAuthRoutes(router, ctx, limiter);
  s.closeStreams = () => router.closeStreams();
  const identifier = newIdentifier({ trust: () => s.trust, access: ctx.access, clock, locks: ctx.lockView });
  const deadlines = { ...DEFAULT_PRE_AUTH_DEADLINES, keepAliveMs: AUTH_KEEP_ALIVE_MS, ...options.deadlines };

  const server = createServer(
    {
      ...initialCredentials,
      requestCert: true,
      // Verified per request against the current CAs (see authz.ts): an anonymous caller reaches only public routes.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: deadlines.handshakeMs,
    },
    (req, res) => {
      const started = performance.now();
      // Read now: once the response is finished the socket may already be detached (req.socket is then null,
      // e.g. after a refused oversized body), and a throw here would take the whole process down.
      const remote = req.socket?.remoteAddress;
      res.once('finish', () => {
        logger.debug('request', {
          method: req.method,
          path: (req.url ?? '').split('?')[0],
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
          remote,
        });
      });
      void router.serve(req, res, (r) => identifier.identify(r));
    },
  );
  server.on('tlsClientError', (err) => logger.debug('TLS handshake failed', { error: err.message }));
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = deadlines.keepAliveMs;
  guardListeningServer(server, {
    deadlines,
    tls: true,
    pending: newPendingConnections(options.maxPendingPerAddress ?? DEFAULT_MAX_PENDING_PER_ADDRESS),
    onTimeout: (phase, remote) => logger.info('closed a connection that sent no complete request in time', { phase, remote_addr: remote }),
    onRefused: (remote, reason) => logger.warn('refused a connection', { remote_addr: remote, reason }),
  });
  return server;
}

/** Listens; resolves with the bound address and the one local clients dial. */
async function listenOn(srv: Server, listen: { host: string; port: number }): Promise<{ addr: string; dialAddr: string }> {
  await listenOrExplain(srv, listen, 'auth_service.listen_addr');
  const bound = srv.address() as AddressInfo;
  const wrap = (host: string): string => (host.includes(':') ? `[${host}]` : host);
  const addr = `${wrap(bound.address)}:${bound.port}`;
  const anyHost = bound.address === '0.0.0.0' || bound.address === '::';
  const dialAddr = `${anyHost ? '127.0.0.1' : wrap(bound.address)}:${bound.port}`;
  return { addr, dialAddr };
}

/** The CA watcher loop and the automatic rotation timer. */
interface BackgroundWork {
  watchLoop: Promise<void>;
  rotation: { timer: NodeJS.Timeout | undefined; running: Promise<void> | undefined; again: boolean };
}

/**
 * Moves automatic rotations along: every `rotationCheckIntervalMs`, or right when the next phase is due (a short
 * grace period is followed to the second), and again whenever a CA changed (a rotation started elsewhere).
 */
function checkRotations(s: AuthServerState, work: BackgroundWork): void {
  const intervalMs = s.options.rotationCheckIntervalMs ?? 60_000;
  if (intervalMs <= 0 || s.closed) return;
  if (work.rotation.running) {
    work.rotation.again = true;
    return;
  }
  clearTimeout(work.rotation.timer);
  work.rotation.running = advanceAutoRotations(s.ctx)
    .then((cas) => nextCaCheckDelayMs(cas, { nowMs: s.clock.now().getTime(), pollMs: intervalMs, slackMs: 20 }))
    .catch((err: unknown) => {
      s.logger.warn('automatic rotation check failed', { error: redact((err as Error).message) });
      return Math.min(intervalMs, 1_000);
    })
    .then((delayMs) => {
      work.rotation.running = undefined;
      const again = work.rotation.again;
      work.rotation.again = false;
      if (!s.closed) work.rotation.timer = setTimeout(() => checkRotations(s, work), again ? 0 : delayMs).unref();
    });
}

function startBackgroundWork(s: AuthServerState): BackgroundWork {
  const work: BackgroundWork = { watchLoop: Promise.resolve(), rotation: { timer: undefined, running: undefined, again: false } };
  s.onCaChanged = () => checkRotations(s, work);
  work.watchLoop = watchTrust(s);
  checkRotations(s, work);
  return work;
}

/** Several auth servers may share the backend: follow CA changes any of them makes. */
async function watchTrust(s: AuthServerState): Promise<void> {
  while (!s.closed) {
    try {
      s.watcher = await s.options.backend.newWatcher({ prefixes: ['/authorities/'], name: 'auth-trust' });
      if (s.closed) s.watcher.close();
      for await (const event of s.watcher) {
        if (event.type === 'init') continue;
        scheduleRefresh(s);
        s.onCaChanged?.();
        notifyTrustFollowers(s.ctx);
      }
      // A watcher that ended may have missed changes: reload once it is back.
      if (!s.closed) scheduleRefresh(s);
    } catch (err) {
      if (!s.closed) s.logger.warn('certificate authority watcher failed, retrying', { error: redact((err as Error).message) });
    }
    if (!s.closed) await new Promise((r) => setTimeout(r, 1_000).unref());
  }
}

/** Stops accepting, lets in-flight requests finish (up to a grace period), stops the watcher and waits for a reload. */
async function closeAuthServer(s: AuthServerState, srv: Server, background: BackgroundWork): Promise<void> {
  if (s.closed) return;
  s.closed = true;
  clearTimeout(background.rotation.timer);
  await background.rotation.running;
  s.watcher?.close();
  s.closeStreams();
  const stopped = new Promise<void>((resolve) => srv.close(() => resolve()));
  srv.closeIdleConnections();
  const force = setTimeout(() => srv.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  await stopped;
  clearTimeout(force);
  await background.watchLoop;
  await s.refreshing;
  await s.closeCache();
}

/**
 * A host identity for this host, issued in process from the host CA: a host certificate with `systemRole`
 * (valid as long as host certificates are) and the host CA to trust the auth server with. The admin identity
 * and a co-located proxy's identity are made this way.
 */
export async function issueLocalHostIdentity(ctx: AuthContext, systemRole: SystemRole, dialAddr: string): Promise<Identity> {
  // From the backend, not the cache: renewals run right after a rotation moved.
  const hostCa = (await ctx.trust.getCertAuthority('host', ctx.clusterName)).ca;
  const keys = await generateKeyPair(BALANCED_V1['tls-host']);
  const cert = await issueHostCert({
    ca: tlsSigningKeyPair(hostCa),
    publicKey: keys.publicKeyPem,
    hostId: ctx.hostUuid,
    clusterName: ctx.clusterName,
    systemRole,
    expires: boundedExpiry(ctx, hostCa, HOST_CERT_TTL_MS),
    clock: ctx.clock,
  });
  return { key: keys.privateKeyPem, cert, caCerts: trustedTlsCerts(hostCa), clusterName: ctx.clusterName, authServers: [dialAddr] };
}
