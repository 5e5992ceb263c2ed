/**
 * `@teleport-ts/core/tunnel`: reverse tunnels. Agents dial OUT to the proxy and open no port; the proxy opens one
 * stream per connection it forwards (a database session, later an SSH session) over the agent's connection.
 *
 * ## Design
 *
 * HTTP/2 over the agent's outbound TLS connection (mTLS with host certificates, ALPN `teleport-reversetunnel`), with
 * the roles reversed: the AGENT is the HTTP/2 server on the socket it dialed (`http2.performServerHandshake`) and
 * the PROXY is the HTTP/2 client on the socket it accepted (`http2.connect` with `createConnection`). A forwarded
 * connection is one `POST /v1/stream` request: its HEADERS frame is the stream's header frame (header
 * `teleport-tunnel-meta`: base64url JSON with the target `service` and the client identity/metadata), the agent
 * answers `200` to accept or an error status with `teleport-tunnel-error` (a wire TeleportError) to refuse, and then
 * request and response bodies carry raw bytes both ways until each side ends its half.
 *
 * - Flow control is HTTP/2's: 1 MiB per stream, 16 MiB per connection; a slow reader stops its own stream only
 *   (its writer sees `write()` return false after ~1 MiB), and buffered data per tunnel stays bounded by those
 *   windows.
 * - HTTP/2 runs over a thin JS Duplex, not the TLS socket directly: Node's HTTP/2 stops reading its socket while a
 *   write is in progress, so with windows larger than the kernel's socket buffers two ends writing bulk data at
 *   each other deadlock (reproduced: 12 streams echoing 4 MiB with 1 MiB stream / 16 MiB connection windows hang
 *   forever; a 64 KiB connection window avoids it but caps a whole tunnel at 64 KiB per round trip, ~1.3 MB/s at
 *   50 ms). The Duplex completes writes at once, so both ends keep reading; flow control still bounds what is
 *   queued (see `decoupleWrites` in `session.ts`).
 * - Keepalive: each side sends an HTTP/2 PING every 15 s and drops the connection when one is not answered in 15 s,
 *   so a dead proxy is noticed by the agent (which reconnects) and a dead agent by the proxy (which unlists it),
 *   even when the path goes silent without a FIN. Nagle is off on the socket (chatty database protocols).
 * - Reconnect: jittered exponential backoff (`core/backend/retry.ts`), 125 ms to 15 s; reset after a connection
 *   that stayed up 10 s. A restarted proxy is found again without any action on the agent.
 * - Several proxies (`startTunnelPool`): given one address (often a load balancer), the agent keeps a tunnel to
 *   every live proxy, or to N of them with proxy peering, telling proxies apart by their certificates; proxies
 *   forward to each other with `serveTunnelStreams` on the receiving end (see docs/high-availability.md).
 * - Why not SSH channels (Teleport's choice): HTTP/2 is built into Node (no `ssh2` dependency in core, no second
 *   authentication layer on top of mTLS), gives per-stream flow control and PING natively, and one header frame is
 *   exactly the per-stream metadata we need.
 *
 * Measured (tunnel.test.ts, 64 MiB echoed through one stream, both ends of everything in one process on a shared
 * 2-core box): tunnel 42-49 MB/s each way, direct TLS echo 100-110 MB/s, direct TCP echo 220-230 MB/s. In
 * production the two ends are separate processes, so each pays half of that CPU. Without the write-decoupling
 * Duplex the tunnel was 1.3-1.8x faster but deadlocks as above; larger HTTP/2 frames (up to 1 MiB) made no
 * difference. One-byte round trips: ~0.5 ms.
 *
 * Observability: `node:diagnostics_channel` {@link TUNNEL_CHANNEL} ({@link TunnelDiagnostic} records).
 *
 * @example
 * ```ts
 * import { newTunnelServer, startTunnelAgent, REVERSE_TUNNEL_ALPN } from '@teleport-ts/core/tunnel';
 *
 * // proxy
 * const tunnels = newTunnelServer();
 * router.on(REVERSE_TUNNEL_ALPN, (tlsSocket, hostIdentity) => tunnels.handleConnection(tlsSocket, hostIdentity));
 * const stream = await tunnels.openStream(agentHostId, { service: 'orders', protocol: 'postgres', identity });
 *
 * // agent
 * const agent = startTunnelAgent({ connect: dialProxy, onStream: (meta, stream) => serve(meta, stream) });
 * ```
 */

export {
  DEFAULT_TUNNEL_BACKOFF,
  STABLE_CONNECTION_MS,
  startTunnelAgent,
  type TunnelAgent,
  type TunnelAgentOptions,
  type TunnelAgentState,
} from './agent.js';
export {
  DEFAULT_DISCOVERY_INTERVAL_MS,
  startTunnelPool,
  type TunnelPool,
  type TunnelPoolOptions,
  type TunnelPoolTarget,
} from './pool.js';
export { serveTunnelStreams, type ServeTunnelStreamsOptions } from './peer.js';
export {
  newTunnelServer,
  type OpenStreamOptions,
  type TunnelAgentIdentity,
  type TunnelAgentInfo,
  type TunnelServer,
  type TunnelServerOptions,
} from './server.js';
export {
  decodeTunnelMeta,
  encodeTunnelMeta,
  MAX_TUNNEL_META_BYTES,
  REVERSE_TUNNEL_ALPN,
  TUNNEL_ERROR_CODES,
  TUNNEL_ERROR_HEADER,
  TUNNEL_META_HEADER,
  TUNNEL_STREAM_PATH,
  type TunnelStreamMeta,
} from './wire.js';
export { TUNNEL_CHANNEL, type TunnelDiagnostic } from './diagnostics.js';
export { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, STREAM_WINDOW_BYTES } from './session.js';
