/**
 * Database access on the proxy's port (ALPN `teleport-postgres`).
 *
 * ## Wire contract (what a client such as tsh's local proxy does)
 *
 * 1. TLS to the proxy's port offering ALPN `teleport-postgres` (only that protocol, or that one first). The proxy
 *    presents its web certificate (the one `https://<proxy>` serves: verify it as for `tsh login`, or skip with
 *    `--insecure` for a self-signed one) and requests a client certificate: present the user's TLS certificate
 *    issued with `routeToDatabase` (`tsh db login`: `generateUserCerts({ routeToDatabase: { serviceName,
 *    protocol, username, database } })`) and its key. Without one, or with one that is expired, from another
 *    cluster or CA, or without a database route, the connection still completes and the refusal comes as below.
 * 2. Inside that TLS: the plain PostgreSQL protocol, exactly what psql would send to a server without TLS. An
 *    SSLRequest or GSSENCRequest is answered `N` (the connection is already encrypted), then the client sends a
 *    StartupMessage (`user` and `database` must match the certificate's route where the route sets them; where it
 *    leaves them empty they come from here) and the session runs. A CancelRequest (a NEW connection like this one,
 *    with the same certificate and the key the session's BackendKeyData gave) cancels the running query.
 * 3. Refusals (no or bad certificate, unknown or offline database, denied by roles, database unreachable) arrive as
 *    a PostgreSQL ErrorResponse with severity FATAL after the StartupMessage, then the proxy closes the
 *    connection: psql prints `FATAL:  <message>` (and `HINT:  <hint>`).
 *
 * ## Routing
 *
 * The proxy verifies the certificate (user CA, rotation included; validity; cluster), reads the route, and picks at
 * random one live agent serving that database: a `db_server` heartbeat whose host has a reverse tunnel here. It
 * opens a tunnel stream carrying the certificate (the agent verifies it again and checks the roles), writes the
 * StartupMessage it read, and pipes both ways.
 *
 * Cancel routing: cancel keys are issued per agent, and a CancelRequest carries only the key, so the proxy sends
 * it to EVERY live agent serving the database; the one that issued the key forwards it (to the same Teleport user
 * only), the others drop it. This works with several agents per database, at the cost of one tunnel stream per
 * agent per cancel. Limit: an agent that restarted since the session began has lost its keys (the session is gone
 * with it anyway). With several proxies the cancel may reach another proxy: agents keep a tunnel to every proxy
 * (agent mesh), or the proxy forwards through a peer the agent is connected to (proxy peering).
 *
 * ## Modules
 *
 * This file: the TLS server, the startup message and the connection's steps. `./db-client.ts`: the certificate
 * check. `./db-servers.ts`: which agents are live. `./db-session.ts`: the session and cancel forwarding.
 */

import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { AuthClient } from '@teleport-ts/core/api';
import { readClientStartup, refuseConnection, SQLSTATE, type CancelRequest, type StartupMessage } from '@teleport-ts/core/protocol/postgres';
import type { ServiceAuditEmitter } from '../db/audit.js';
import type { CertAuthorityCache } from '../db/cas.js';
import type { LockWatcher } from '../lockwatcher.js';
import { DEFAULT_PRE_AUTH_DEADLINES, type PreAuthDeadlines } from '../../http/deadlines.js';
import { ALPN_PROTOCOLS, peerKey, type ProtocolRegistry } from './alpn.js';
import { clientAddress, refusedUser, verifyDatabaseClient, type VerifiedClient } from './db-client.js';
import type { AgentRouter } from './agents.js';
import { newDatabaseServerDirectory } from './db-servers.js';
import { forwardCancel, refuseAtProxy, serveProxySession, type ProxyDatabaseContext } from './db-session.js';
import { newRoutedTlsServer, routeToTlsServer } from './routed-tls.js';
import type { ProxyLogger } from './service.js';

export interface DatabaseRouteOptions {
  registry: ProtocolRegistry;
  /** Agents' tunnels here, and peers (proxy peering). */
  agents: AgentRouter;
  auth: Pick<AuthClient, 'getDatabaseServers'>;
  cas: CertAuthorityCache;
  /** The web listener's key and certificate chain: what database clients see too. */
  certificate: { key: string; cert: string };
  clusterName: string;
  log: ProxyLogger;
  /** Where refusals the proxy decides are recorded (`db.session.start` failures). */
  audit: ServiceAuditEmitter;
  /** Locks: a locked user is refused here, a locked agent gets no sessions, running sessions end. */
  locks: LockWatcher;
  /** Handshake and startup-message deadlines (`handshakeMs`, `headersMs`); default {@link DEFAULT_PRE_AUTH_DEADLINES}. */
  deadlines?: Pick<PreAuthDeadlines, 'handshakeMs' | 'headersMs'>;
}

export interface DatabaseRoute {
  /** Unregisters the route and closes open database connections. */
  close(): Promise<void>;
}

/** The route's state, shared by every connection. */
interface RouteContext extends ProxyDatabaseContext {
  cas: CertAuthorityCache;
  clusterName: string;
  deadlines: Pick<PreAuthDeadlines, 'handshakeMs' | 'headersMs'>;
  /** Frees a connection's slot among its address's unidentified ones, by {@link peerKey}. */
  established: Map<string, () => void>;
}

/** Verifies the client's certificate; refuses (and audits) a session whose certificate fails, drops such a cancel. */
async function verifyOrRefuse(ctx: RouteContext, socket: TLSSocket, message: StartupMessage | CancelRequest, clientAddr: string): Promise<VerifiedClient | undefined> {
  try {
    return await verifyDatabaseClient(socket, ctx);
  } catch (err) {
    if (message.type === 'cancelRequest') {
      socket.destroy();
      return undefined;
    }
    const reason = refuseAtProxy(socket, err);
    ctx.audit.emit('databaseSessionStartFailure', {
      ...refusedUser(socket, err),
      db_user: message.parameters['user'],
      db_name: message.parameters['database'],
      'addr.remote': clientAddr,
      success: false,
      error: reason,
    });
    ctx.log.info('database client certificate refused', { remote_addr: clientAddr, reason });
    return undefined;
  }
}

/** One client connection: startup, certificate, then a cancel or a session. */
async function serveConnection(ctx: RouteContext, socket: TLSSocket): Promise<void> {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const clientAddr = clientAddress(socket);
  let startup: { message: StartupMessage | CancelRequest; raw: Buffer };
  try {
    startup = await readClientStartup(socket, { timeoutMs: ctx.deadlines.headersMs });
  } catch (err) {
    // A FATAL naming the limit or the fault, as tsh's local proxy and the agent answer (not a bare EOF).
    const reason = refuseConnection(socket, err, { internalMessage: 'no usable startup message in time', code: SQLSTATE.protocolViolation });
    ctx.log.info('database client sent no usable startup message', { remote_addr: clientAddr, error: reason });
    return;
  }
  const { message, raw } = startup;
  const verified = await verifyOrRefuse(ctx, socket, message, clientAddr);
  if (verified === undefined) return;
  // Identified: a session may now stay idle for as long as it likes.
  ctx.established.get(peerKey(socket))?.();
  const client = { socket, verified, clientAddr, raw };
  if (message.type === 'cancelRequest') {
    await forwardCancel(ctx, client, message);
    socket.end();
    return;
  }
  await serveProxySession(ctx, client, message);
}

/** The TLS server the ALPN listener hands `teleport-postgres` connections to (it never listens itself). */
function newDatabaseTlsServer(ctx: RouteContext, options: DatabaseRouteOptions): TlsServer {
  // The client is verified after the startup message, so that a refusal reaches it as a PostgreSQL error.
  return newRoutedTlsServer({
    certificate: options.certificate,
    alpn: ALPN_PROTOCOLS.postgres,
    handshakeMs: ctx.deadlines.handshakeMs,
    what: 'database',
    log: ctx.log,
    serve: (socket) => serveConnection(ctx, socket),
  });
}

/**
 * Registers `teleport-postgres` on the proxy's listener (see the module documentation for the wire contract).
 *
 * @example
 * ```ts
 * const route = registerDatabaseRoute({ registry: proxy.registry, agents, auth, cas, certificate, clusterName, log, audit });
 * ```
 */
export function registerDatabaseRoute(options: DatabaseRouteOptions): DatabaseRoute {
  const { agents } = options;
  const ctx: RouteContext = {
    agents,
    servers: newDatabaseServerDirectory({ auth: options.auth, agents, locks: options.locks }),
    audit: options.audit,
    locks: options.locks,
    log: options.log,
    cas: options.cas,
    clusterName: options.clusterName,
    deadlines: options.deadlines ?? DEFAULT_PRE_AUTH_DEADLINES,
    established: new Map(),
  };
  return routeToTlsServer({ registry: options.registry, protocol: ALPN_PROTOCOLS.postgres, server: newDatabaseTlsServer(ctx, options), established: ctx.established });
}
