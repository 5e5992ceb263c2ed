/**
 * What travels on the tunnel besides raw bytes: the ALPN name, the per-stream header frame (target service plus
 * JSON metadata, base64url-encoded, carried by the stream's OPEN frame) and the error an
 * agent returns when it refuses a stream.
 */

import { BadParameterError, ConnectionProblemError, fromWireError, isTeleportError, toWireError, type TeleportError, type WireError } from '../errors/index.js';

/** ALPN protocol of reverse tunnel connections on the proxy's port. */
export const REVERSE_TUNNEL_ALPN = 'teleport-reversetunnel';

/** Path of a forwarded connection in the first (HTTP/2) tunnel protocol; kept for the names it exports. */
export const TUNNEL_STREAM_PATH = '/v1/stream';

/** Header carrying {@link TunnelStreamMeta} as base64url JSON. */
export const TUNNEL_META_HEADER = 'teleport-tunnel-meta';

/** Header carrying a refused stream's error (kind, code, message, hint) as base64url JSON. */
export const TUNNEL_ERROR_HEADER = 'teleport-tunnel-error';

/** Largest metadata JSON accepted, in bytes (the OPEN frame's payload is capped at 64 KiB anyway). */
export const MAX_TUNNEL_META_BYTES = 16 * 1024;

/** Stable error codes of the tunnel. */
export const TUNNEL_ERROR_CODES = {
  /** No live tunnel from that agent. */
  agentOffline: 'ERR_TP_TUNNEL_AGENT_OFFLINE',
  /** The tunnel broke or the agent did not answer while opening a stream. */
  streamFailed: 'ERR_TP_TUNNEL_STREAM_FAILED',
  /** The stream header frame is missing or invalid. */
  badMeta: 'ERR_TP_TUNNEL_BAD_META',
  /** The peer did not negotiate the reverse tunnel ALPN protocol. */
  badAlpn: 'ERR_TP_TUNNEL_BAD_ALPN',
} as const;

/**
 * The header frame of a stream: which service the connection is for and who is connecting, as the proxy
 * authenticated them. The tunnel treats everything but `service` as opaque JSON.
 */
export interface TunnelStreamMeta {
  /** Target service on the agent, e.g. the database name. */
  service: string;
  /** Protocol of the bytes that follow, e.g. `postgres`. */
  protocol?: string;
  /** The authenticated client identity, e.g. the user certificate's identity. */
  identity?: unknown;
  /** The client's address as the proxy saw it. */
  clientAddr?: string;
  [key: string]: unknown;
}

/**
 * Encodes stream metadata for {@link TUNNEL_META_HEADER}.
 *
 * @example
 * ```ts
 * const header = encodeTunnelMeta({ service: 'orders', protocol: 'postgres', identity: { user: 'alice' } });
 * decodeTunnelMeta(header).service; // 'orders'
 * ```
 *
 * @throws BadParameterError `ERR_TP_TUNNEL_BAD_META` when `service` is missing or the JSON is over
 *   {@link MAX_TUNNEL_META_BYTES}.
 */
export function encodeTunnelMeta(meta: TunnelStreamMeta): string {
  if (typeof meta.service !== 'string' || meta.service === '') {
    throw new BadParameterError('a tunnel stream needs a target service', { code: TUNNEL_ERROR_CODES.badMeta });
  }
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  if (json.length > MAX_TUNNEL_META_BYTES) {
    throw new BadParameterError(`tunnel stream metadata is over ${MAX_TUNNEL_META_BYTES} bytes`, { code: TUNNEL_ERROR_CODES.badMeta });
  }
  return json.toString('base64url');
}

/**
 * Decodes and checks {@link TUNNEL_META_HEADER}: base64url JSON of an object with a non-empty `service`.
 *
 * @throws BadParameterError `ERR_TP_TUNNEL_BAD_META`.
 */
export function decodeTunnelMeta(header: unknown): TunnelStreamMeta {
  const bad = () => new BadParameterError('invalid tunnel stream metadata', { code: TUNNEL_ERROR_CODES.badMeta });
  if (typeof header !== 'string' || header.length > Math.ceil((MAX_TUNNEL_META_BYTES * 4) / 3) + 4) throw bad();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad();
  const service = (value as { service?: unknown }).service;
  if (typeof service !== 'string' || service === '') throw bad();
  return value as TunnelStreamMeta;
}

/** Encodes a refusal for {@link TUNNEL_ERROR_HEADER}: TeleportErrors keep kind, code, message and hint. */
export function encodeTunnelError(err: unknown, service: string): string {
  const wire: WireError = isTeleportError(err)
    ? toWireError(err)
    : // Foreign errors may carry internal detail (addresses, paths): the proxy only learns that it failed.
      toWireError(new ConnectionProblemError(`the agent could not serve "${service}"`, { code: TUNNEL_ERROR_CODES.streamFailed }));
  return Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
}

/** Decodes {@link TUNNEL_ERROR_HEADER}; a missing or invalid header becomes a ConnectionProblemError. */
export function decodeTunnelError(header: unknown, fallback: string): TeleportError {
  if (typeof header === 'string' && header.length <= 64 * 1024) {
    try {
      const wire = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Partial<WireError>;
      if (typeof wire.kind === 'string' && typeof wire.message === 'string' && typeof wire.code === 'string') {
        return fromWireError({ kind: wire.kind, code: wire.code, message: wire.message, ...(typeof wire.hint === 'string' ? { hint: wire.hint } : {}) });
      }
    } catch {
      // fall through
    }
  }
  return new ConnectionProblemError(fallback, { code: TUNNEL_ERROR_CODES.streamFailed });
}
