/**
 * `@teleport-ts/core/tunnel`: reverse tunnels. Agents dial OUT to the proxy and open no port; the proxy opens one
 * stream per connection it forwards (a database session, later an SSH session) over the agent's connection.
 *
 * ## Design
 *
 * A stream multiplexer of our own (`mux.ts`) over the agent's outbound TLS connection (mTLS with host
 * certificates, ALPN `teleport-reversetunnel`): the PROXY opens streams on the socket it accepted, the AGENT
 * accepts them on the socket it dialed. Frames are a 9-byte header (type, stream id, length) and a payload. A
 * forwarded connection is one stream: its OPEN frame carries the metadata (base64url JSON with the target
 * `service` and the client identity/metadata, {@link encodeTunnelMeta}), the agent answers ACCEPT, or REFUSE with
 * a wire TeleportError ({@link TUNNEL_ERROR_HEADER}'s encoding), and then DATA frames carry raw bytes both ways
 * until each side sends FIN; RESET ends a stream both ways. Each side starts with a HELLO (magic and version).
 *
 * - Flow control per stream: at most {@link STREAM_WINDOW_BYTES} (1 MiB) unacknowledged; a slow reader stops its
 *   own stream only (its writer sees `write()` return false), and what a stream can buffer stays bounded. The
 *   socket is always read, so two ends writing bulk at each other cannot deadlock (HTTP/2 in Node could).
 * - Cost per query: a DATA payload is handed to the stream as a slice of what TLS delivered (no copy), a small
 *   frame goes out as one buffer, and the frames written in one tick leave in one socket write (one TLS record).
 * - Keepalive: each side sends a PING every 15 s and drops the connection when one is not answered in 15 s,
 *   so a dead proxy is noticed by the agent (which reconnects) and a dead agent by the proxy (which unlists it),
 *   even when the path goes silent without a FIN. Nagle is off on the socket (chatty database protocols).
 * - Reconnect: jittered exponential backoff (`core/backend/retry.ts`), 125 ms to 15 s; reset after a connection
 *   that stayed up 10 s. A restarted proxy is found again without any action on the agent.
 * - Several proxies (`startTunnelPool`): given one address (often a load balancer), the agent keeps a tunnel to
 *   every live proxy, or to N of them with proxy peering, telling proxies apart by their certificates; proxies
 *   forward to each other with `serveTunnelStreams` on the receiving end (see docs/high-availability.md).
 * - Why not HTTP/2 (the first implementation) or SSH channels (Teleport's choice): both give multiplexing and
 *   flow control, but per query Node's HTTP/2 (nghttp2 behind a JS socket wrapper, needed against its write
 *   deadlock) cost more CPU than the relaying itself (docs/benchmarks.md, "Database path speed"); SSH would add
 *   a second authentication layer on top of mTLS. An agent and a proxy of different builds must both speak
 *   this version: the HELLO's magic tells them apart, and a mismatch drops the connection.
 *
 * Measured (tunnel.test.ts, 64 MiB echoed through one stream, both ends of everything in one process on a shared
 * 2-core box under load): tunnel 27 MB/s each way, direct TLS echo 31 MB/s, direct TCP echo 38 MB/s (HTTP/2:
 * 42-49 against 100-110 for TLS on an idle box).
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
