/**
 * Step 4 of a PostgreSQL session: make the client ready. The database runs its own startup phase (authentication
 * by certificate, ParameterStatus, BackendKeyData, ReadyForQuery) and the client sees it, with one change: the cancel
 * key it receives is one the agent issued, so a CancelRequest has to come back through Teleport.
 */

import { Transform } from 'node:stream';
import { newBackendParser, serializeBackendKeyData, serializeErrorResponse, SQLSTATE, type BackendKey, type BackendMessage } from '@teleport-ts/core/protocol/postgres';
import type { SessionGrant } from './access.js';
import { sessionStartFailed, type PostgresEngineContext, type PostgresSession } from './session.js';

/**
 * The server -> client direction: during the startup phase (until `done()` says so) every message is decoded and
 * BackendKeyData is rewritten, each chunk still leaving as one buffer; after it, chunks pass through untouched and
 * unparsed (result rows are most of the bytes of a session). At the end, `trailer()` (when it returns something) is
 * appended after the server's last bytes, so it never lands inside a server message. One Transform for all of it:
 * each stage of a relay costs per chunk.
 */
function startupPhaseTap(options: {
  onMessage: (message: BackendMessage) => void;
  rewriteBackendKeyData: (serverKey: BackendKey) => BackendKey;
  done: () => boolean;
  trailer: () => Buffer | undefined;
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
    flush(callback) {
      callback(null, options.trailer());
    },
  });
}

/** What making the client ready needs from the engine. */
export type ReadyContext = Pick<PostgresEngineContext, 'audit' | 'cancelKeys'>;

/** Moves the session out of `starting` on the database's first ReadyForQuery (started) or ErrorResponse (failed). */
function onStartupMessage(ctx: ReadyContext, session: PostgresSession, m: BackendMessage): void {
  if (session.phase !== 'starting') return;
  if (m.type === 'readyForQuery') {
    session.phase = 'started';
    ctx.audit.emit('databaseSessionStart', { ...session.fields, success: true });
  } else if (m.type === 'errorResponse') {
    session.phase = 'failed';
    sessionStartFailed(ctx, session, m.fields.message);
  }
}

/** Issues the client a cancel key of the agent's own for the server's real one (released when the session ends). */
function issueCancelKey(ctx: ReadyContext, session: PostgresSession, grant: SessionGrant, serverKey: BackendKey): BackendKey {
  const issued = ctx.cancelKeys.register(
    { database: session.database, dbUser: grant.dbUser, serverKey, teleportUser: grant.who.identity.username },
    { secretKeyLength: serverKey.secretKey.length },
  );
  session.releases.push(issued.release);
  return issued.key;
}

/**
 * The server -> client Transform of the session: records the session start (or its failure) as the database decides
 * it, rewrites the cancel key, then passes bytes through unparsed; when the session ends on a client fault
 * (`session.fault`), appends an ErrorResponse saying why after the server's last bytes.
 */
export function makeClientReady(ctx: ReadyContext, session: PostgresSession, grant: SessionGrant): Transform {
  return startupPhaseTap({
    done: () => session.phase !== 'starting',
    onMessage: (m) => onStartupMessage(ctx, session, m),
    rewriteBackendKeyData: (serverKey) => issueCancelKey(ctx, session, grant, serverKey),
    trailer: () =>
      session.fault === undefined ? undefined : serializeErrorResponse({ severity: 'FATAL', code: SQLSTATE.protocolViolation, message: session.fault }),
  });
}
