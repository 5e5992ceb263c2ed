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
 * with it anyway); and with several proxies, the cancel may reach another proxy, which sees the same agents (each
 * agent tunnels to the proxy it dialled, so an agent connected only to another proxy is not reached).
 */

import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AuthClient, DatabaseServer } from '@teleport-ts/core/api';
import type { AuditEventFields } from '@teleport-ts/core/audit';
import { derToPem, parseIdentity, type Identity } from '@teleport-ts/core/ca';
import { AccessDeniedError, ConnectionProblemError, NotFoundError, isTeleportError } from '@teleport-ts/core/errors';
import {
  readStartupMessage,
  serializeEncryptionResponse,
  serializeErrorResponse,
  SQLSTATE,
  type CancelRequest,
  type StartupMessage,
} from '@teleport-ts/core/protocol/postgres';
import type { TunnelServer } from '@teleport-ts/core/tunnel';
import type { ServiceAuditEmitter } from '../db/audit.js';
import type { LockWatcher } from '../lockwatcher.js';
import type { CertAuthorityCache } from '../db/cas.js';
import { DATABASE_STREAM_PROTOCOL, type DatabaseStreamMeta } from '../db/wire.js';
import { ALPN_PROTOCOLS, type ProtocolRegistry } from './alpn.js';
import type { ProxyLogger } from './service.js';

/** Limit on the client's startup messages. */
const STARTUP_TIMEOUT_MS = 30_000;
/** How long the list of database servers is reused. */
const DB_SERVERS_MAX_AGE_MS = 1_000;
/** A database missing from a list at least this old makes the proxy read the list again. */
const DB_SERVERS_MISS_REFRESH_MS = 100;

export interface DatabaseRouteOptions {
  registry: ProtocolRegistry;
  tunnels: TunnelServer;
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
  /** Handshake deadline, ms; default 10 s. */
  handshakeTimeoutMs?: number;
}

export interface DatabaseRoute {
  /** Unregisters the route and closes open database connections. */
  close(): Promise<void>;
}

/** Identity and route of a verified client certificate. */
interface Verified {
  identity: Identity;
  certPem: string;
  serviceName: string;
}

function fatal(socket: Duplex, err: unknown): string {
  const message = isTeleportError(err) ? err.message : 'internal error in the proxy';
  const hint = isTeleportError(err) ? err.hint : undefined;
  if (!socket.destroyed) {
    socket.end(
      serializeErrorResponse({
        severity: 'FATAL',
        code: isTeleportError(err) && err.kind === 'access-denied' ? SQLSTATE.invalidAuthorizationSpecification : SQLSTATE.connectionFailure,
        message,
        ...(hint !== undefined ? { hint } : {}),
      }),
    );
  }
  return message;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Registers `teleport-postgres` on the proxy's listener (see the module documentation for the wire contract).
 *
 * @example
 * ```ts
 * const route = registerDatabaseRoute({ registry: proxy.registry, tunnels, auth, cas, certificate, clusterName, log, audit });
 * ```
 */
export function registerDatabaseRoute(options: DatabaseRouteOptions): DatabaseRoute {
  const { log } = options;
  const sockets = new Set<Socket>();

  // ---- database servers ----
  let list: { at: number; servers: readonly DatabaseServer[] } | undefined;
  let pending: Promise<readonly DatabaseServer[]> | undefined;
  // Ages are real time (freshness), not the injected clock (which decides certificate validity).
  const fetchServers = (): Promise<readonly DatabaseServer[]> => {
    pending ??= options.auth
      .getDatabaseServers()
      .then((servers) => {
        list = { at: performance.now(), servers };
        return servers;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const serversFor = async (name: string): Promise<DatabaseServer[]> => {
    const cached = list;
    const age = cached === undefined ? Number.POSITIVE_INFINITY : performance.now() - cached.at;
    const fresh = cached !== undefined && age < DB_SERVERS_MAX_AGE_MS;
    let matching = (fresh ? cached.servers : await fetchServers()).filter((s) => s.metadata.name === name);
    // Not there in a list that is not brand new: the agent may have just announced it.
    if (matching.length === 0 && fresh && age >= DB_SERVERS_MISS_REFRESH_MS) matching = (await fetchServers()).filter((s) => s.metadata.name === name);
    return matching;
  };
  /** Live agents serving `name`, or a NotFound / ConnectionProblem error naming the database. */
  const liveServers = async (name: string): Promise<DatabaseServer[]> => {
    const servers = await serversFor(name);
    if (servers.length === 0) {
      throw new NotFoundError(`database "${name}" not found`, { hint: 'tctl db ls (or tsh db ls) lists the databases of the cluster' });
    }
    const connected = servers.filter((s) => options.tunnels.hasAgent(s.spec.host_id));
    const live = connected.filter((s) => !options.locks.isLocked({ serverId: s.spec.host_id }));
    if (live.length === 0 && connected.length > 0) {
      // Every agent serving it is locked: say so, with the lock's message.
      options.locks.assertNotLocked({ serverId: connected[0]!.spec.host_id });
    }
    if (live.length === 0) {
      throw new ConnectionProblemError(`database "${name}" is not available: no database service serving it is connected to the proxy`, {
        hint: 'check that the database service (teleport-ts start --roles=db) is running and can reach the proxy',
      });
    }
    return shuffled(live);
  };

  // ---- connections ----
  const verifyClient = async (socket: TLSSocket): Promise<Verified> => {
    // The X509Certificate object is lazy; getPeerCertificate() would decode every field (and hash it three ways).
    const peer = socket.getPeerX509Certificate();
    if (peer === undefined) {
      throw new AccessDeniedError('access to db denied: a client certificate is required', { hint: 'connect with `tsh db connect` or through `tsh proxy db`' });
    }
    const certPem = derToPem(peer.raw, 'CERTIFICATE');
    let identity: Identity;
    try {
      identity = (await options.cas.verify('user', certPem, 'clientAuth')).identity;
    } catch (err) {
      if (!isTeleportError(err)) throw err;
      throw new AccessDeniedError(`access to db denied: ${err.message}`, {
        code: err.kind === 'access-denied' ? err.code : 'ERR_TP_ACCESS_DENIED',
        hint: err.code === 'ERR_TP_TLS_CERT_EXPIRED' ? 'run `tsh db login` again' : 'log in with `tsh login` and `tsh db login` to this cluster',
      });
    }
    if (identity.teleportCluster !== options.clusterName) throw new AccessDeniedError('access to db denied: the certificate was issued by another cluster');
    const route = identity.routeToDatabase;
    if (route === undefined || route.serviceName === '') {
      throw new AccessDeniedError('access to db denied: the certificate is not for a database', { hint: 'run `tsh db login <database>` first' });
    }
    return { identity, certPem, serviceName: route.serviceName };
  };

  /** Who a refused certificate named, for the audit log: only when its signature is ours (expired, wrong usage). */
  const refusedUser = (socket: TLSSocket, err: unknown): { user?: string; db_service?: string } => {
    const code = isTeleportError(err) ? err.code : '';
    if (code !== 'ERR_TP_TLS_CERT_EXPIRED' && code !== 'ERR_TP_TLS_CERT_NOT_YET_VALID' && code !== 'ERR_TP_TLS_CERT_USAGE') return {};
    try {
      const identity = parseIdentity(socket.getPeerCertificate().raw);
      return { user: identity.username, ...(identity.routeToDatabase ? { db_service: identity.routeToDatabase.serviceName } : {}) };
    } catch {
      return {};
    }
  };

  const meta = (verified: Verified, kind: 'session' | 'cancel', clientAddr: string): DatabaseStreamMeta => ({
    service: verified.serviceName,
    protocol: DATABASE_STREAM_PROTOCOL,
    kind,
    identity: { cert: verified.certPem },
    clientAddr,
  });

  const cancel = async (verified: Verified, request: CancelRequest, raw: Buffer, clientAddr: string): Promise<void> => {
    let servers: DatabaseServer[];
    try {
      servers = await liveServers(verified.serviceName);
    } catch {
      return;
    }
    await Promise.allSettled(
      servers.map(async (server) => {
        const stream = await options.tunnels.openStream(server.spec.host_id, meta(verified, 'cancel', clientAddr), { timeoutMs: 10_000 });
        stream.on('error', () => undefined);
        stream.resume();
        stream.end(raw);
      }),
    );
    log.info('database cancel request forwarded', { db_service: verified.serviceName, user: verified.identity.username, process_id: request.processId, agents: servers.length });
  };

  const session = async (socket: TLSSocket, verified: Verified, startup: StartupMessage, raw: Buffer, clientAddr: string): Promise<void> => {
    const auditFields = (): AuditEventFields => ({
      user: verified.identity.username,
      db_service: verified.serviceName,
      db_user: verified.identity.routeToDatabase?.username ?? startup.parameters['user'],
      db_name: verified.identity.routeToDatabase?.database ?? startup.parameters['database'],
      'addr.remote': clientAddr,
    });
    let stream: Duplex | undefined;
    let lastError: unknown;
    let agentId = '';
    const subject = { user: verified.identity.username, roles: verified.identity.roles, logins: verified.identity.logins };
    try {
      options.locks.assertNotLocked(subject);
      for (const server of await liveServers(verified.serviceName)) {
        agentId = server.spec.host_id;
        try {
          stream = await options.tunnels.openStream(server.spec.host_id, meta(verified, 'session', clientAddr), { timeoutMs: 15_000 });
          break;
        } catch (err) {
          lastError = err;
          // The agent stopped serving it, or its tunnel just broke: try another one.
          if (isTeleportError(err) && (err.kind === 'not-found' || err.kind === 'connection-problem')) continue;
          break;
        }
      }
    } catch (err) {
      lastError = err;
    }
    if (stream === undefined) {
      const reason = fatal(socket, lastError);
      options.audit.emit('databaseSessionStartFailure', { ...auditFields(), success: false, error: reason });
      log.info('database connection refused', { db_service: verified.serviceName, user: verified.identity.username, reason });
      return;
    }
    const tunnelStream = stream;
    tunnelStream.on('error', () => undefined);
    // A lock on the user or on the agent ends the session here too (the agent does the same for locks it knows).
    const unwatch = options.locks.watch({ ...subject, serverId: agentId }, () => socket.destroy());
    tunnelStream.write(raw);
    const up = pipeline(socket, tunnelStream);
    const down = pipeline(tunnelStream, socket);
    up.catch(() => tunnelStream.destroy());
    down.catch(() => socket.destroy());
    await Promise.allSettled([up, down]);
    unwatch();
    socket.destroy();
    tunnelStream.destroy();
  };

  const serve = async (socket: TLSSocket): Promise<void> => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const clientAddr = `${socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]` : (socket.remoteAddress ?? '')}:${socket.remotePort ?? 0}`;
    const signal = AbortSignal.timeout(STARTUP_TIMEOUT_MS);
    let message: StartupMessage | CancelRequest;
    let raw: Buffer;
    try {
      let read = await readStartupMessage(socket, { signal });
      while (read.message.type === 'sslRequest' || read.message.type === 'gssEncRequest') {
        // Already inside TLS: no second layer.
        socket.write(serializeEncryptionResponse(false));
        read = await readStartupMessage(socket, { signal });
      }
      message = read.message;
      raw = read.raw;
    } catch (err) {
      log.info('database client sent no usable startup message', { remote_addr: clientAddr, error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
      return;
    }
    let verified: Verified;
    try {
      verified = await verifyClient(socket);
    } catch (err) {
      if (message.type === 'cancelRequest') {
        socket.destroy();
        return;
      }
      const reason = fatal(socket, err);
      options.audit.emit('databaseSessionStartFailure', {
        ...refusedUser(socket, err),
        db_user: message.parameters['user'],
        db_name: message.parameters['database'],
        'addr.remote': clientAddr,
        success: false,
        error: reason,
      });
      log.info('database client certificate refused', { remote_addr: clientAddr, reason });
      return;
    }
    if (message.type === 'cancelRequest') {
      await cancel(verified, message, raw, clientAddr);
      socket.end();
      return;
    }
    await session(socket, verified, message, raw, clientAddr);
  };

  const server = createTlsServer(
    {
      key: options.certificate.key,
      cert: options.certificate.cert,
      requestCert: true,
      // Verified after the startup message, so that a refusal reaches the client as a PostgreSQL error.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [ALPN_PROTOCOLS.postgres],
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    },
    (socket: TLSSocket) => {
      serve(socket).catch((err: unknown) => {
        log.warn('database connection failed', { error: err instanceof Error ? err.message : String(err) });
        socket.destroy();
      });
    },
  );
  server.on('tlsClientError', (err, socket) => {
    log.info('database client TLS handshake failed', { remote_addr: socket.remoteAddress ?? '', error: err.message });
    socket.destroy();
  });

  const unregister = options.registry.register({
    protocol: ALPN_PROTOCOLS.postgres,
    tls: 'passthrough',
    handle: (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      server.emit('connection', socket);
    },
  });

  return {
    async close() {
      unregister();
      for (const socket of sockets) socket.destroy();
    },
  };
}
