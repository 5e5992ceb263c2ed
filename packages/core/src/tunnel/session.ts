/** Keepalive shared by both ends of the tunnel. Internal to the module. */

export { STREAM_WINDOW_BYTES } from './mux.js';

/** Defaults for keepalive: a PING every 15 s, the peer is dead when one is not answered in 15 s. */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 15_000;

/** What keepalive needs of a tunnel session. */
interface Pingable {
  readonly closed: boolean;
  ping(onPong: () => void): void;
}

/**
 * Pings the peer every `intervalMs`; calls `onTimeout` (once) when a ping is not answered within `timeoutMs`.
 * Returns a stop function (call it when the session closes).
 */
export function startKeepAlive(session: Pingable, options: { intervalMs: number; timeoutMs: number; onTimeout: () => void }): () => void {
  let pending: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearInterval(interval);
    if (pending !== undefined) clearTimeout(pending);
  };
  const interval = setInterval(() => {
    if (stopped || pending !== undefined || session.closed) return;
    pending = setTimeout(() => {
      stop();
      options.onTimeout();
    }, options.timeoutMs);
    pending.unref();
    session.ping(() => {
      if (stopped) return;
      clearTimeout(pending);
      pending = undefined;
    });
  }, options.intervalMs);
  interval.unref();
  return stop;
}
