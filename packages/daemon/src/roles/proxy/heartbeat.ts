/**
 * The proxy's heartbeat of itself: a `proxy` resource (name = its host UUID, public address, peer address) kept
 * for `ttlMs` and renewed every `intervalMs` (sooner after a failure). Agents read the list to reach every proxy;
 * peers read it to find each other. A proxy that stops gracefully removes itself.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { redact } from '@teleport-ts/core/errors';
import { VERSION } from '@teleport-ts/core/version';
import type { ProxyLogger } from './service.js';

/** Defaults: announced for 60 s, renewed every 20 s (two may be missed). */
const DEFAULT_PROXY_HEARTBEAT = Object.freeze({ ttlMs: 60_000, intervalMs: 20_000 });
/** Delay before retrying a heartbeat the auth server did not take. */
const RETRY_MS = 2_000;

export interface ProxyHeartbeatOptions {
  auth: Pick<AuthClient, 'upsertProxy' | 'deleteProxy'>;
  /** The proxy's host UUID. */
  name: string;
  hostname: string;
  publicAddr: string;
  peerAddr?: string;
  heartbeat?: { ttlMs?: number; intervalMs?: number };
  log: ProxyLogger;
}

export interface ProxyHeartbeat {
  /** Resolves after the first successful announcement. */
  readonly firstAnnounced: Promise<void>;
  /** Stops announcing and removes the proxy from the list (best effort). */
  close(): Promise<void>;
}

/**
 * @example
 * ```ts
 * const beat = startProxyHeartbeat({ auth, name: hostId, hostname, publicAddr: 'lb.example.com:443', log });
 * await beat.close();
 * ```
 */
export function startProxyHeartbeat(options: ProxyHeartbeatOptions): ProxyHeartbeat {
  const { ttlMs, intervalMs } = { ...DEFAULT_PROXY_HEARTBEAT, ...options.heartbeat };
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;
  let announced!: () => void;
  const firstAnnounced = new Promise<void>((resolve) => (announced = resolve));
  const beat = async (): Promise<void> => {
    let delay = intervalMs;
    try {
      await options.auth.upsertProxy({
        name: options.name,
        hostname: options.hostname,
        publicAddr: options.publicAddr,
        ...(options.peerAddr !== undefined ? { peerAddr: options.peerAddr } : {}),
        version: VERSION,
        ttl: ttlMs,
      });
      announced();
      failing = false;
    } catch (err) {
      delay = Math.min(RETRY_MS, intervalMs);
      if (!closed && !failing) options.log.warn('proxy heartbeat failed, retrying', { error: redact((err as Error).message) });
      failing = true;
    }
    if (!closed) timer = setTimeout(() => void beat(), delay);
  };
  void beat();
  return {
    firstAnnounced,
    async close() {
      closed = true;
      clearTimeout(timer);
      await options.auth.deleteProxy(options.name).catch(() => undefined);
    },
  };
}
