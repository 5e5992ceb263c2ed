/** Step 1 of a PostgreSQL connection: read what the client sends first. */

import type { Duplex } from 'node:stream';
import {
  readStartupMessage,
  serializeEncryptionResponse,
  STARTUP_TIMEOUT_MS,
  type CancelRequest,
  type StartupMessage,
} from '@teleport-ts/core/protocol/postgres';

/** The client's first real message: a StartupMessage (a session) or a CancelRequest. */
export interface ClientStartup {
  message: StartupMessage | CancelRequest;
  /** Its bytes as the client sent them. */
  raw: Buffer;
}

/**
 * Reads the startup-phase messages, answering SSLRequest/GSSENCRequest with `N` (the tunnel is already TLS), within
 * {@link STARTUP_TIMEOUT_MS}.
 *
 * @throws what `readStartupMessage` throws (malformed, too large, closed early) or the timeout's abort reason.
 */
export async function handleStartup(stream: Duplex): Promise<ClientStartup> {
  const signal = AbortSignal.timeout(STARTUP_TIMEOUT_MS);
  let { message, raw } = await readStartupMessage(stream, { signal });
  while (message.type === 'sslRequest' || message.type === 'gssEncRequest') {
    stream.write(serializeEncryptionResponse(false));
    ({ message, raw } = await readStartupMessage(stream, { signal }));
  }
  return { message, raw };
}
