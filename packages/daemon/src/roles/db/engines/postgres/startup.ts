/**
 * Step 1 of a PostgreSQL connection: read what the client sends first (a StartupMessage or a CancelRequest),
 * answering encryption requests `N` since the tunnel is already TLS. The same reader serves the proxy and tsh's
 * local proxy.
 */

export { readClientStartup as handleStartup, type ClientStartup } from '@teleport-ts/core/protocol/postgres';
