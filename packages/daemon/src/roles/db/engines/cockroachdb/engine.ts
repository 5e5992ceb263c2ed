/**
 * The CockroachDB engine. CockroachDB speaks the PostgreSQL wire protocol, and the agent serves it exactly as it
 * serves PostgreSQL: the same startup (SSLRequest answered `N`), TLS to the database with a `db_client` certificate
 * whose CN is the database user (CockroachDB maps it as PostgreSQL does), the server verified per `tls.mode` and
 * `tls.server_name` (default: the host of `uri`; CockroachDB's SQL port 26257 is written in `uri`), the cancel keys
 * of the agent. Where CockroachDB differs, the difference lives with what it concerns, keyed by the protocol:
 * - roles: `db_names` is not enforced (a CockroachDB session may switch databases), in `core/rbac`;
 * - clients: `tsh db connect` runs `cockroach sql --url ...?sslmode=disable` (the local hop is plain), in tsh;
 * - certificates: `tctl auth sign --format=cockroachdb` writes a `--certs-dir` (node cert usable as a client).
 * A future difference in the session itself (for example a cluster check at connect time) goes here.
 */

import type { DatabaseEngine, EngineContext } from '../engine.js';
import { newPostgresEngine } from '../postgres/engine.js';

/** @example `const engine = newCockroachEngine(ctx);` */
export function newCockroachEngine(ctx: EngineContext): DatabaseEngine {
  return newPostgresEngine(ctx, { protocol: 'cockroachdb' });
}
