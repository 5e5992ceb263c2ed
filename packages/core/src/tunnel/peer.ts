/**
 * Proxy peering's receiving end: a proxy that dialed us (mutual TLS checked by the caller) opens streams with the
 * tunnel's wire (OPEN with the meta, ACCEPT or REFUSE with the error), the dialer being the opening side. The
 * dialing side is a {@link newTunnelServer} registry keyed by peer id, which already speaks the opening half.
 */

import type { TLSSocket } from 'node:tls';
import { ConnectionProblemError } from '../errors/index.js';
import { resolveAgentSettings, serveTunnelSocket, type ProxyLink, type TunnelAgentOptions } from './agent.js';

/** Options of {@link serveTunnelStreams}. */
export interface ServeTunnelStreamsOptions extends Pick<TunnelAgentOptions, 'onStream' | 'clock' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs' | 'maxConcurrentStreams'> {
  /** Limit on the peer's tunnel handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Aborting drops the connection. */
  signal?: AbortSignal;
}

/**
 * Serves the streams a peer opens on an accepted, authenticated TLS connection until it closes: each stream goes to
 * `onStream`, whose return accepts it and whose throw refuses it with the error (as an agent does).
 *
 * @example
 * ```ts
 * await serveTunnelStreams(tlsSocket, { onStream: async (meta, stream) => pipeline(await localAgentStream(meta), stream, ...) });
 * ```
 */
export async function serveTunnelStreams(socket: TLSSocket, options: ServeTunnelStreamsOptions): Promise<void> {
  const closing = options.signal ?? new AbortController().signal;
  const settings = resolveAgentSettings({ ...options, connect: () => Promise.reject(new TypeError('unused')) }, closing, () => undefined);
  const link: ProxyLink = { state: 'connecting', current: { socket }, wakeUp: undefined };
  const onAbort = () => {
    link.current?.session?.destroy();
    socket.destroy();
  };
  closing.addEventListener('abort', onAbort, { once: true });
  try {
    const handshake = AbortSignal.any([closing, AbortSignal.timeout(options.handshakeTimeoutMs ?? 10_000)]);
    await serveTunnelSocket(settings, link, socket, handshake);
  } catch (err) {
    if (!(err instanceof ConnectionProblemError)) throw err;
  } finally {
    closing.removeEventListener('abort', onAbort);
    socket.destroy();
  }
}
