/**
 * The proxy role: the cluster's only public entry. One TLS port routes by ALPN (see `./alpn.ts`): the web API and
 * pages over `http/1.1`, the auth API passed through untouched over `teleport-auth`, and the protocols of later
 * roles through the registry.
 */

import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import type { AuthClient, Identity } from '@teleport-ts/core/api';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import type { BackendCache } from '@teleport-ts/core/cache';
import { DEFAULT_PROXY_WEB_LISTEN_ADDR, DEFAULT_PROXY_WEB_PORT, parseHostPort, type FileConfig } from '@teleport-ts/core/config';
import { DEFAULT_AUTH_PORT } from '@teleport-ts/core/config';
import {
  DEFAULT_MAX_PENDING_PER_ADDRESS,
  DEFAULT_PRE_AUTH_DEADLINES,
  guardHttpServer,
  newPendingConnections,
  type PreAuthDeadlines,
} from '../../http/deadlines.js';
import { listenOrExplain } from '../../http/listen.js';
import type { Logger } from '../../logger.js';
import { ALPN_PROTOCOLS, newAlpnListener, spliceTo, type AlpnListener, type ProtocolRegistry } from './alpn.js';
import { loadHttpsKeyPairs, selfSignedCertificate, selfSignedHosts, type HttpsKeyPair } from './certificate.js';
import { DEFAULT_WEB_RATE_LIMIT, newRateLimiter } from './ratelimit.js';
import { newWebHandler, type ProxyAuthApi } from './web/api.js';
import type { ProxyCaReads } from './web/endpoints.js';

/** The part of the daemon's structured logger the proxy uses; the proxy never prints. */
export type ProxyLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

const noopLogger: ProxyLogger = { info: () => {}, warn: () => {}, error: () => {} };

export interface ProxyServiceOptions {
  /** The parsed teleport.yaml (`proxy_service` is read). */
  config: FileConfig;
  /** Where the self-signed web certificate is kept between restarts. */
  dataDir?: string;
  /** A client of the auth API (co-located auth). Without it, one is made from `authAddr` and `identity`. */
  authClient?: ProxyAuthApi;
  /** Where the public CA export reads the CAs (the proxy's cache); default the auth client. */
  caReads?: ProxyCaReads;
  /** `host:port` of the auth API: target of `teleport-auth` connections, and of our client when none is given. */
  authAddr?: string;
  /** The proxy's host identity, to reach the auth API when no `authClient` is given. */
  identity?: Identity;
  clock?: Clock;
  log?: ProxyLogger;
  /** Overrides `proxy_service.web_listen_addr` (tests listen on `127.0.0.1:0`). */
  listenAddr?: string;
  /** Overrides `proxy_service.https_keypairs`. */
  httpsKeyPairs?: readonly HttpsKeyPair[];
  /** Per-address limit of the unauthenticated endpoints; default {@link DEFAULT_WEB_RATE_LIMIT}. */
  rateLimit?: { average: number; burst: number };
  /** Deadlines before a client is identified (tests shorten them); default {@link DEFAULT_PRE_AUTH_DEADLINES}. */
  deadlines?: Partial<PreAuthDeadlines>;
  /** Connections per source address not yet identified; default {@link DEFAULT_MAX_PENDING_PER_ADDRESS}. */
  maxPendingPerAddress?: number;
  /** Serves `teleport-auth` connections the auth server cannot take (unreachable), from the proxy's cache. */
  authFallback?: { serve(socket: net.Socket): void };
  /**
   * The auth server of this process: `teleport-auth` connections are handed to it in-process instead of spliced to
   * `authAddr`, so it sees (and limits) each client by its own address, not the whole fleet by the proxy's.
   */
  localAuth?: { acceptConnection(socket: net.Socket): void };
}

export interface ProxyService {
  /** `host:port` the web listener is bound to (the real port when 0 was asked for). */
  addr: string;
  /** `host:port` clients are told to use. */
  publicAddr: string;
  /** True when the web certificate is self-signed (clients need `--insecure`). */
  selfSigned: boolean;
  /** Where later roles plug in their ALPN protocols. */
  registry: ProtocolRegistry;
  /** The web listener's key and certificate chain, for protocols that terminate TLS themselves (`teleport-postgres`). */
  webCertificate: { key: string; cert: string };
  /** The deadlines before a client is identified, for the routes of later roles. */
  deadlines: PreAuthDeadlines;
  /** Agents with a live reverse tunnel here (set by the proxy role). */
  /** The cache fed by the auth server's watch (a proxy alone). */
  cache?: BackendCache;
  /** Audit events queued for the auth server. */
  auditQueueDepth?: () => number;
  connectedAgents?: () => number;
  close(): Promise<void>;
}

/** Paths that carry a user token (a secret) are logged without it. */
export function redactTokenPath(p: string): string {
  return p.replace(/(\/(?:invite|reset|token))\/[^/]+/g, '$1/<token>');
}

function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The auth API the web handler uses: the one given, or a client of `authAddr` the proxy owns (and closes). */
async function proxyAuthApi(options: ProxyServiceOptions): Promise<{ auth: ProxyAuthApi; owned?: AuthClient }> {
  if (options.authClient) return { auth: options.authClient };
  if (options.authAddr && options.identity) {
    const { newAuthClient } = await import('@teleport-ts/core/api');
    const owned = newAuthClient({ addr: options.authAddr, identity: options.identity });
    return { auth: owned, owned };
  }
  throw new TypeError('startProxyService: pass authClient, or authAddr and identity');
}

/** The web certificate: `https_keypairs` when configured, else a self-signed one kept in the data dir. */
async function webCertificate(options: ProxyServiceOptions, publicAddrs: readonly string[], clock: Clock, log: ProxyLogger) {
  const pairs = options.httpsKeyPairs ?? options.config.proxy_service?.https_keypairs ?? [];
  const certificate =
    pairs.length > 0 ? await loadHttpsKeyPairs(pairs) : await selfSignedCertificate({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), hosts: selfSignedHosts(publicAddrs), clock });
  if (certificate.selfSigned) {
    log.warn('serving a self-signed certificate; clients need --insecure. Set proxy_service.https_keypairs for a trusted one.');
  }
  return certificate;
}

/** The ALPN listener: the web server for `http/1.1`, and the auth API passed through to `authAddr` when given. */
function newProxyListener(options: ProxyServiceOptions, certificate: { key: string; cert: string }, webServer: http.Server, log: ProxyLogger): AlpnListener {
  const deadlines = { ...DEFAULT_PRE_AUTH_DEADLINES, ...options.deadlines };
  const guard = guardHttpServer(webServer, {
    deadlines,
    onTimeout: (phase, remoteAddr) => log.info('closed a web connection that sent no complete request in time', { phase, remote_addr: remoteAddr }),
  });
  const listener = newAlpnListener({
    certificate,
    web: (socket, info) => {
      guard(socket, info.established);
      webServer.emit('connection', socket);
    },
    handshakeTimeoutMs: deadlines.handshakeMs,
    pending: newPendingConnections(options.maxPendingPerAddress ?? DEFAULT_MAX_PENDING_PER_ADDRESS),
    onEvent: (event) => {
      if (event.type === 'route-error') log.warn('protocol handler failed', { protocol: event.protocol, remote_addr: event.remoteAddr, error: String(event.error) });
      else if (event.type === 'bad-client-hello') log.info('dropped a connection that is not TLS', { remote_addr: event.remoteAddr, reason: event.message });
      else if (event.type === 'too-many-pending') log.warn('refused a connection', { remote_addr: event.remoteAddr, reason: event.message });
      else if (event.type === 'handshake-timeout') log.info('closed a connection that did not finish its TLS handshake in time', { remote_addr: event.remoteAddr });
    },
  });
  const local = options.localAuth;
  if (local !== undefined) {
    listener.register({
      protocol: ALPN_PROTOCOLS.auth,
      tls: 'passthrough',
      handle: (socket, info) => {
        info.established();
        local.acceptConnection(socket);
      },
    });
  } else if (options.authAddr) {
    const target = parseHostPort(options.authAddr, DEFAULT_AUTH_PORT);
    const splice = spliceTo(target, (err) => log.warn('auth API passthrough failed', { error: (err as NodeJS.ErrnoException).code ?? err.message }), options.authFallback?.serve);
    // The auth server bounds the phases of what it receives itself.
    listener.register({
      protocol: ALPN_PROTOCOLS.auth,
      tls: 'passthrough',
      handle: (socket, info) => {
        info.established();
        splice(socket);
      },
    });
  }
  return listener;
}

/** Binds the listener; resolves to the bound port (the real one when 0 was asked for). */
async function bind(server: net.Server, listen: { host: string; port: number }): Promise<number> {
  await listenOrExplain(server, listen, 'proxy_service.web_listen_addr');
  const bound = server.address();
  return typeof bound === 'object' && bound !== null ? bound.port : listen.port;
}

/** The address clients are told: the first `public_addr` (default port added), else the bound one (the host name for a wildcard). */
function resolvePublicAddr(configured: string | undefined, listen: { host: string }, port: number): string {
  if (configured === undefined || configured === '') {
    const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
    return formatAddr(wildcard ? os.hostname() : listen.host, port);
  }
  return /:\d+$/.test(configured) ? configured : `${configured}:${DEFAULT_PROXY_WEB_PORT}`;
}

/**
 * Starts the proxy and resolves once it listens.
 *
 * @example
 * ```ts
 * const proxy = await startProxyService({ config, dataDir, authClient, authAddr: '127.0.0.1:3025', clock, log });
 * log.info('proxy listening', { addr: proxy.addr });
 * await proxy.close();
 * ```
 */
export async function startProxyService(options: ProxyServiceOptions): Promise<ProxyService> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? noopLogger;
  const section = options.config.proxy_service ?? {};
  const listen = parseHostPort(options.listenAddr ?? section.web_listen_addr ?? DEFAULT_PROXY_WEB_LISTEN_ADDR, DEFAULT_PROXY_WEB_PORT);
  const publicAddrs = section.public_addr ?? [];
  const { auth, owned } = await proxyAuthApi(options);
  const certificate = await webCertificate(options, publicAddrs, clock, log);
  const limiter = newRateLimiter({ ...(options.rateLimit ?? DEFAULT_WEB_RATE_LIMIT), clock });
  // The CA export has the same limit in a bucket of its own (`WebApiContext.exportLimiter`).
  const exportLimiter = newRateLimiter({ ...(options.rateLimit ?? DEFAULT_WEB_RATE_LIMIT), clock });
  const webServer = http.createServer({ requestTimeout: 60_000, headersTimeout: 20_000 });
  webServer.keepAliveTimeout = 30_000;
  const listener = newProxyListener(options, certificate, webServer, log);
  const port = await bind(listener.server, listen);
  const addr = formatAddr(listen.host, port);
  // The public address is known only after binding when port 0 was asked for.
  const publicAddr = resolvePublicAddr(publicAddrs[0], listen, port);
  const handler = newWebHandler({
    auth,
    ...(options.caReads ? { caReads: options.caReads } : {}),
    clock,
    limiter,
    exportLimiter,
    publicAddr,
    selfSigned: certificate.selfSigned,
    onInternalError: (err, req) => log.error('internal error', { method: req.method, path: redactTokenPath(req.path), error: err instanceof Error ? err.stack : String(err) }),
  });
  webServer.on('request', handler);
  log.info('web listener is up', { addr, public_addr: publicAddr, protocols: listener.protocols() });
  return {
    addr,
    publicAddr,
    selfSigned: certificate.selfSigned,
    registry: listener,
    webCertificate: { key: certificate.key, cert: certificate.cert },
    deadlines: { ...DEFAULT_PRE_AUTH_DEADLINES, ...options.deadlines },
    async close() {
      webServer.closeAllConnections();
      await listener.close();
      await owned?.close();
    },
  };
}
