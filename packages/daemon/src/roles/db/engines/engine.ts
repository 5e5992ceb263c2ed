/**
 * The db agent's `Engine` (Teleport's `lib/srv/db/common`): what serves the client connections of one database
 * protocol. The agent reads which database a tunnel stream is for, picks the engine for that database's protocol
 * (`./registry.ts`) and hands it the stream. Each engine lives in its own folder (`./postgres/`,
 * `./cockroachdb/`); a new protocol is one new folder and one line in the registry.
 */

import type { Duplex } from 'node:stream';
import type { DatabaseProtocol } from '@teleport-ts/core/config';
import type { Logger } from '../../../logger.js';
import type { LockWatcher } from '../../lockwatcher.js';
import type { ServiceAuditEmitter } from '../audit.js';
import type { DatabaseAuthorizer } from '../authorize.js';
import type { CertAuthorityCache } from '../cas.js';
import type { DatabaseSpec } from '../config.js';
import type { ClientCertCache } from '../upstream.js';
import type { DatabaseStreamMeta } from '../wire.js';

/** What every engine shares with the agent: verification, access checks, credentials, audit, locks. */
export interface EngineContext {
  authorizer: DatabaseAuthorizer;
  /** `db_client` certificates the agent presents to databases. */
  certs: ClientCertCache;
  cas: CertAuthorityCache;
  audit: ServiceAuditEmitter;
  logger: Logger;
  locks: LockWatcher;
  /** This agent's host UUID (locks may target it with `server_id`). */
  hostId: string;
}

/** One stream the proxy forwarded through the reverse tunnel. */
export interface DatabaseConnection {
  /** The database it is for (served by this agent, of the engine's protocol). */
  database: DatabaseSpec;
  meta: DatabaseStreamMeta;
  stream: Duplex;
}

export interface DatabaseEngine {
  readonly protocol: DatabaseProtocol;
  /**
   * Serves one connection, from the client's first message to the end of the session. Never rejects: failures
   * reach the client (through {@link DatabaseEngine.sendError}), the audit log and the logger.
   */
  handleConnection(connection: DatabaseConnection): Promise<void>;
  /** Refuses the client in the engine's protocol and ends the stream; returns the message sent. */
  sendError(stream: Duplex, err: unknown): string;
}

/** Builds an engine over the agent's shared services (called once per protocol the agent serves). */
export type EngineFactory = (ctx: EngineContext) => DatabaseEngine;
