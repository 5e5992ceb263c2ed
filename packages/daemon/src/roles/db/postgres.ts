/**
 * The PostgreSQL engine of the db agent (PostgreSQL and CockroachDB speak the same protocol). One call serves one
 * stream from the proxy: read the startup, verify and authorize, connect to the database with the agent's client
 * certificate, replay the startup, then pipe both ways, auditing statements and handing the client a cancel key of
 * the agent's own. Refusals reach the client as an ErrorResponse with severity FATAL (psql prints
 * `FATAL:  access to db denied: ...`).
 */

import { randomUUID } from 'node:crypto';
import { Transform, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { AuditEventFields } from '@teleport-ts/core/audit';
import { isTeleportError } from '@teleport-ts/core/errors';
import type { LockSubject } from '@teleport-ts/core/types';
import {
  frontendMessageTap,
  newBackendParser,
  readStartupMessage,
  sendCancelRequest,
  serializeBackendKeyData,
  serializeEncryptionResponse,
  serializeErrorResponse,
  serializeStartupMessage,
  SQLSTATE,
  type BackendKey,
  type BackendMessage,
  type CancelKeyRegistry,
  type CancelRequest,
  type FrontendMessage,
  type StartupMessage,
} from '@teleport-ts/core/protocol/postgres';
import type { Logger } from '../../logger.js';
import type { ServiceAuditEmitter } from './audit.js';
import type { DatabaseAuthorizer, DatabaseIdentity } from './authorize.js';
import type { CertAuthorityCache } from './cas.js';
import type { DatabaseSpec } from './config.js';
import { connectToDatabase, type ClientCertCache } from './upstream.js';
import type { DatabaseStreamMeta } from './wire.js';
import type { LockWatcher } from '../lockwatcher.js';

/** Limit on the client sending its startup message. */
export const STARTUP_TIMEOUT_MS = 30_000;
/** Longest statement text kept in a `db.session.query` event. */
export const MAX_AUDITED_QUERY_LENGTH = 32 * 1024;
/** Prepared statements remembered per session for auditing Execute (the oldest are forgotten past this). */
const MAX_TRACKED_STATEMENTS = 10_000;
/** After the database side closed, how long the client side may take to finish before it is cut. */
const CLOSE_GRACE_MS = 5_000;

/** What a cancel key the agent issued leads to. */
export interface CancelTarget {
  database: DatabaseSpec;
  dbUser: string;
  /** The server's real key. */
  serverKey: BackendKey;
  /** Only the same Teleport user may cancel the session's queries. */
  teleportUser: string;
}

/** Everything a session needs from the agent. */
export interface PostgresEngineContext {
  authorizer: DatabaseAuthorizer;
  certs: ClientCertCache;
  cas: CertAuthorityCache;
  cancelKeys: CancelKeyRegistry<CancelTarget>;
  audit: ServiceAuditEmitter;
  logger: Logger;
  locks: LockWatcher;
  /** This agent's host UUID (locks may target it with `server_id`). */
  hostId: string;
}

function errorText(err: unknown): { message: string; hint?: string; denied: boolean } {
  if (isTeleportError(err)) return { message: err.message, ...(err.hint !== undefined ? { hint: err.hint } : {}), denied: err.kind === 'access-denied' || err.kind === 'bad-parameter' };
  return { message: 'internal error in the database service', denied: false };
}

/**
 * The server -> client direction: during the startup phase (until `done()` says so) every message is decoded and
 * BackendKeyData is rewritten, each chunk still leaving as one buffer; after it, chunks pass through untouched and
 * unparsed (result rows are most of the bytes of a session).
 */
function startupPhaseTap(options: {
  onMessage: (message: BackendMessage) => void;
  rewriteBackendKeyData: (serverKey: BackendKey) => BackendKey;
  done: () => boolean;
}): Transform {
  const parser = newBackendParser();
  let passThrough = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (passThrough) {
        callback(null, chunk);
        return;
      }
      let out: Buffer[];
      try {
        out = parser.push(chunk).map((segment) => {
          if (segment.kind === 'bytes') return segment.bytes;
          options.onMessage(segment.message);
          if (segment.message.type !== 'backendKeyData') return segment.raw;
          const { processId, secretKey } = segment.message;
          return serializeBackendKeyData(options.rewriteBackendKeyData({ processId, secretKey }));
        });
      } catch (err) {
        callback(err as Error);
        return;
      }
      passThrough = options.done();
      if (out.length === 0) callback();
      else callback(null, out.length === 1 ? out[0] : Buffer.concat(out));
    },
  });
}

/** Who a session is, as locks see it. */
function lockSubject(ctx: PostgresEngineContext, who: DatabaseIdentity): LockSubject {
  return { user: who.identity.username, roles: who.identity.roles, logins: who.identity.logins, serverId: ctx.hostId };
}

/** Sends a FATAL ErrorResponse and ends the stream. */
function refuse(stream: Duplex, err: unknown): string {
  const { message, hint, denied } = errorText(err);
  if (!stream.destroyed) {
    stream.end(
      serializeErrorResponse({
        severity: 'FATAL',
        code: denied ? SQLSTATE.invalidAuthorizationSpecification : SQLSTATE.connectionFailure,
        message,
        ...(hint !== undefined ? { hint } : {}),
      }),
    );
  }
  return message;
}

function truncate(text: string): { text: string; truncated: boolean } {
  return text.length > MAX_AUDITED_QUERY_LENGTH ? { text: text.slice(0, MAX_AUDITED_QUERY_LENGTH), truncated: true } : { text, truncated: false };
}

/** Bind parameters as the audit log shows them: text as text, binary as hex, NULL as null. */
function parameterTexts(parameters: readonly (Buffer | null)[], formats: readonly number[]): (string | null)[] {
  return parameters.map((p, i) => {
    if (p === null) return null;
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : formats[i];
    const value = format === 1 ? `\\x${p.toString('hex')}` : p.toString('utf8');
    return value.length > 1024 ? `${value.slice(0, 1024)}...` : value;
  });
}

/** Reads one startup-phase message, answering SSLRequest/GSSENCRequest with `N` (the tunnel is already TLS). */
async function readStartup(stream: Duplex): Promise<{ message: StartupMessage | CancelRequest; raw: Buffer }> {
  const signal = AbortSignal.timeout(STARTUP_TIMEOUT_MS);
  let { message, raw } = await readStartupMessage(stream, { signal });
  while (message.type === 'sslRequest' || message.type === 'gssEncRequest') {
    stream.write(serializeEncryptionResponse(false));
    ({ message, raw } = await readStartupMessage(stream, { signal }));
  }
  return { message, raw };
}

/**
 * Serves one database stream. Never throws: failures are reported to the client (FATAL ErrorResponse), the audit
 * log and the logger.
 *
 * @example
 * ```ts
 * startTunnelAgent({ connect, onStream: (meta, stream) => { void servePostgresStream(ctx, database, parseDatabaseStreamMeta(meta), stream); } });
 * ```
 */
export async function servePostgresStream(ctx: PostgresEngineContext, database: DatabaseSpec, meta: DatabaseStreamMeta, stream: Duplex): Promise<void> {
  stream.on('error', () => undefined);
  let startup: { message: StartupMessage | CancelRequest; raw: Buffer };
  try {
    startup = await readStartup(stream);
  } catch (err) {
    ctx.logger.debug('database client sent no usable startup message', { db_service: database.name, error: (err as Error).message });
    stream.destroy();
    return;
  }
  if (startup.message.type === 'cancelRequest') {
    await serveCancel(ctx, database, meta, startup.message);
    stream.end();
    return;
  }
  await serveSession(ctx, database, meta, stream, startup.message);
}

async function serveCancel(ctx: PostgresEngineContext, database: DatabaseSpec, meta: DatabaseStreamMeta, request: CancelRequest): Promise<void> {
  const target = ctx.cancelKeys.lookup(request);
  // Unknown keys are dropped silently, as PostgreSQL does: the proxy asks every agent serving the database.
  if (target === undefined || target.database.name !== database.name) return;
  let who: DatabaseIdentity;
  try {
    who = await ctx.authorizer.verifyIdentity(meta.identity.cert, database);
  } catch {
    return;
  }
  if (who.identity.username !== target.teleportUser) {
    ctx.logger.warn('refused a cancel request for another user\'s session', { db_service: database.name, user: who.identity.username });
    return;
  }
  try {
    const credentials = await ctx.certs.get(database.name, target.dbUser);
    const socket = await connectToDatabase({ database, credentials, cas: ctx.cas });
    await sendCancelRequest(socket, target.serverKey, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    ctx.logger.warn('could not forward a cancel request to the database', { db_service: database.name, error: (err as Error).message });
  }
}

async function serveSession(ctx: PostgresEngineContext, database: DatabaseSpec, meta: DatabaseStreamMeta, client: Duplex, startup: StartupMessage): Promise<void> {
  const sid = randomUUID();
  const fields: AuditEventFields = {
    sid,
    db_service: database.name,
    db_protocol: database.protocol,
    db_uri: database.uri,
    'addr.remote': meta.clientAddr,
  };
  const startFailed = (reason: string): void => {
    ctx.audit.emit('databaseSessionStartFailure', { ...fields, success: false, error: reason });
  };

  let granted: { who: DatabaseIdentity; dbUser: string; dbName: string; parameters: Record<string, string> };
  try {
    const who = await ctx.authorizer.verifyIdentity(meta.identity.cert, database);
    fields['user'] = who.identity.username;
    fields['db_user'] = startup.parameters['user'] ?? who.route.username;
    fields['db_name'] = startup.parameters['database'] ?? who.route.database;
    const grant = await ctx.authorizer.authorize(who, database, startup.parameters);
    ctx.locks.assertNotLocked(lockSubject(ctx, who));
    fields['db_user'] = grant.dbUser;
    fields['db_name'] = grant.dbName;
    fields['db_roles'] = [...who.identity.roles];
    granted = { who, ...grant };
  } catch (err) {
    const reason = refuse(client, err);
    startFailed(reason);
    ctx.logger.info('database session refused', { db_service: database.name, user: typeof fields['user'] === 'string' ? fields['user'] : '', reason });
    return;
  }

  let server: TLSSocket;
  try {
    const credentials = await ctx.certs.get(database.name, granted.dbUser);
    server = await connectToDatabase({ database, credentials, cas: ctx.cas });
  } catch (err) {
    const reason = refuse(client, err);
    startFailed(reason);
    ctx.logger.warn('could not connect to the database', { db_service: database.name, error: reason });
    return;
  }
  server.on('error', () => undefined);
  server.write(serializeStartupMessage({ parameters: granted.parameters, protocolVersion: startup.protocolVersion }));

  // Session start is decided by the database: the first ReadyForQuery, or an ErrorResponse before it.
  const state: { phase: 'starting' | 'started' | 'failed' } = { phase: 'starting' };
  const releases: (() => void)[] = [];
  const toClient = startupPhaseTap({
    done: () => state.phase !== 'starting',
    onMessage: (m) => {
      if (state.phase !== 'starting') return;
      if (m.type === 'readyForQuery') {
        state.phase = 'started';
        ctx.audit.emit('databaseSessionStart', { ...fields, success: true });
      } else if (m.type === 'errorResponse') {
        state.phase = 'failed';
        startFailed(m.fields.message);
      }
    },
    rewriteBackendKeyData: (serverKey) => {
      const issued = ctx.cancelKeys.register(
        { database, dbUser: granted.dbUser, serverKey, teleportUser: granted.who.identity.username },
        { secretKeyLength: serverKey.secretKey.length },
      );
      releases.push(issued.release);
      return issued.key;
    },
  });

  const statements = new Map<string, string>();
  const portals = new Map<string, { text: string; parameters: (string | null)[] }>();
  const auditQuery = (text: string, parameters?: (string | null)[]): void => {
    const { text: query, truncated } = truncate(text);
    ctx.audit.emit('databaseSessionQuery', {
      ...fields,
      success: true,
      db_query: query,
      ...(truncated ? { db_query_truncated: true } : {}),
      ...(parameters !== undefined && parameters.length > 0 ? { db_query_parameters: parameters } : {}),
    });
  };
  const onFrontend = (m: FrontendMessage): void => {
    switch (m.type) {
      case 'query':
        auditQuery(m.text);
        break;
      case 'parse':
        if (statements.size >= MAX_TRACKED_STATEMENTS && !statements.has(m.statement)) statements.delete(statements.keys().next().value!);
        statements.set(m.statement, m.text);
        break;
      case 'bind':
        if (portals.size >= MAX_TRACKED_STATEMENTS && !portals.has(m.portal)) portals.delete(portals.keys().next().value!);
        portals.set(m.portal, { text: statements.get(m.statement) ?? '', parameters: parameterTexts(m.parameters, m.parameterFormats) });
        break;
      case 'execute': {
        const portal = portals.get(m.portal);
        if (portal !== undefined) auditQuery(portal.text, portal.parameters);
        break;
      }
      case 'close':
        if (m.target === 'statement') statements.delete(m.name);
        else portals.delete(m.name);
        break;
      default:
        break;
    }
  };
  const toServer = frontendMessageTap({ onMessage: onFrontend });

  let bytesFromClient = 0;
  let bytesToClient = 0;
  toServer.on('data', (chunk: Buffer) => (bytesFromClient += chunk.length));
  toClient.on('data', (chunk: Buffer) => (bytesToClient += chunk.length));

  // A lock that comes into force ends the session (Teleport closes the connection, as here).
  const unwatch = ctx.locks.watch(lockSubject(ctx, granted.who), (message) => {
    ctx.logger.info('database session ended: a lock is in force', { db_service: database.name, user: granted.who.identity.username, lock: message });
    client.destroy();
    server.destroy();
  });
  const upstream = pipeline(client, toServer, server);
  const downstream = pipeline(server, toClient, client);
  upstream.catch(() => {
    // The client went away (or sent something malformed): the database session ends with it.
    server.destroy();
  });
  downstream.catch(() => client.destroy());
  await downstream.catch(() => undefined);
  // The database closed its side; give the client's side a moment to finish, then cut it.
  const grace = setTimeout(() => {
    client.destroy();
    server.destroy();
  }, CLOSE_GRACE_MS);
  await upstream.catch(() => undefined);
  clearTimeout(grace);
  unwatch();
  server.destroy();
  for (const release of releases) release();
  if (state.phase === 'starting') startFailed('the database closed the connection during startup');
  if (state.phase === 'started') {
    ctx.audit.emit('databaseSessionEnd', { ...fields, bytes_from_client: bytesFromClient, bytes_to_client: bytesToClient });
  }
}
