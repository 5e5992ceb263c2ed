/**
 * The startup phase as every hop that speaks to a PostgreSQL client sees it (tsh's local proxy, the proxy, the db
 * agent): encryption requests are answered `N` (each hop is already inside TLS, or local), and the first real
 * message is returned.
 */

import type { Duplex } from 'node:stream';
import { malformed } from './buffer.js';
import type { CancelRequest, StartupMessage } from './messages.js';
import { STARTUP_TIMEOUT_MS } from './refusal.js';
import { serializeEncryptionResponse } from './serializer.js';
import { readStartupMessage } from './startup.js';

/**
 * PostgreSQL answers at most one SSLRequest and one GSSENCRequest before the startup packet; a client that keeps
 * asking is refused instead of being answered for the whole startup timeout.
 */
const MAX_ENCRYPTION_REQUESTS = 2;

/** The client's first real message: a StartupMessage (a session) or a CancelRequest, with its exact bytes. */
export interface ClientStartup {
  message: StartupMessage | CancelRequest;
  /** The message's bytes as the client sent them, to replay unchanged. */
  raw: Buffer;
}

/**
 * Reads the client's startup phase within `options.timeoutMs` (default {@link STARTUP_TIMEOUT_MS}), answering up to
 * two encryption requests with `N`.
 *
 * @throws BadParameterError `ERR_TP_PG_MALFORMED_MESSAGE` after a third encryption request; what `readStartupMessage`
 *   throws (malformed, too large, closed early); the timeout's abort reason.
 */
export async function readClientStartup(stream: Duplex, options: { timeoutMs?: number } = {}): Promise<ClientStartup> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? STARTUP_TIMEOUT_MS);
  let { message, raw } = await readStartupMessage(stream, { signal });
  for (let answered = 0; message.type === 'sslRequest' || message.type === 'gssEncRequest'; answered++) {
    if (answered === MAX_ENCRYPTION_REQUESTS) throw malformed('startup phase: too many encryption requests');
    stream.write(serializeEncryptionResponse(false));
    ({ message, raw } = await readStartupMessage(stream, { signal }));
  }
  return { message, raw };
}
