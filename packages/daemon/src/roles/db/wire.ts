/**
 * What the proxy tells a db agent when it opens a reverse tunnel stream for a database connection: the header
 * frame's metadata. The bytes that follow are the client's PostgreSQL protocol bytes, starting with the
 * StartupMessage (or CancelRequest) the proxy read; the agent answers with the server's bytes.
 */

import type { TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import { BadParameterError } from '@teleport-ts/core/errors';

/** `protocol` of database streams: the PostgreSQL wire protocol (PostgreSQL and CockroachDB). */
export const DATABASE_STREAM_PROTOCOL = 'postgres';

/**
 * Metadata of a database stream.
 * - `kind: 'session'`: a client session; the stream starts with its StartupMessage.
 * - `kind: 'cancel'`: the stream carries one CancelRequest; the agent cancels the query if it issued that key (to
 *   the same Teleport user) and ends the stream. The proxy sends a CancelRequest to every agent serving the
 *   database, since keys are per agent.
 */
export interface DatabaseStreamMeta extends TunnelStreamMeta {
  /** The database's name (`routeToDatabase.serviceName`). */
  service: string;
  protocol: typeof DATABASE_STREAM_PROTOCOL;
  kind: 'session' | 'cancel';
  /**
   * The client's TLS certificate (PEM) as the proxy received it, after the proxy verified it and the client's
   * possession of its key. The agent verifies it again against the user CA and takes the identity from it.
   */
  identity: { cert: string };
  /** `IP:port` of the client as the proxy saw it. */
  clientAddr: string;
}

/** Reads the metadata of a database stream; throws BadParameterError when it is not one. */
export function parseDatabaseStreamMeta(meta: TunnelStreamMeta): DatabaseStreamMeta {
  const identity = meta.identity as { cert?: unknown } | undefined;
  if (meta.protocol !== DATABASE_STREAM_PROTOCOL) throw new BadParameterError(`this agent serves only ${DATABASE_STREAM_PROTOCOL} streams`);
  if (meta['kind'] !== 'session' && meta['kind'] !== 'cancel') throw new BadParameterError('invalid database stream kind');
  if (typeof identity?.cert !== 'string' || !identity.cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw new BadParameterError('a database stream needs the client certificate');
  }
  return {
    service: meta.service,
    protocol: DATABASE_STREAM_PROTOCOL,
    kind: meta['kind'],
    identity: { cert: identity.cert },
    clientAddr: typeof meta.clientAddr === 'string' ? meta.clientAddr : '',
  };
}
