/**
 * The agent pool: an agent given one proxy address (often a load balancer in front of several proxies) keeps a
 * reverse tunnel to each proxy it should reach, as Teleport's agent pool does.
 *
 * - Which proxies exist comes from `discover` (the proxies' heartbeats) together with the tunnel strategy:
 *   `agent_mesh` (no `connectionCount`) wants one tunnel to every live proxy, `proxy_peering` wants
 *   `connectionCount` tunnels to distinct proxies. It is asked every (jittered) discovery interval, and at once on
 *   `rediscover()`: an agent following the proxies' heartbeats on the auth server's watch calls it on every change,
 *   so a new proxy is dialed as soon as it heartbeats and the interval is only a fallback.
 * - While tunnels are missing, the pool dials the address again; which proxy answered is read from its
 *   certificate (`connect` returns its id). A proxy already reached is hung up on and the pool dials again after a
 *   jittered backoff, so an agent behind a load balancer reaches every proxy in a few tries without hammering it.
 * - A tunnel that breaks is dialed again the same way (not necessarily to the same proxy) after a jittered pause
 *   (no thundering herd when a proxy restarts under many agents); a proxy that stopped heartbeating (it left the
 *   cluster) has its tunnel dropped.
 */

import type { TLSSocket } from 'node:tls';
import { jitteredBackoff, type BackoffOptions } from '../backend/retry.js';
import { ConnectionProblemError } from '../errors/index.js';
import {
  DEFAULT_TUNNEL_BACKOFF,
  dropLink,
  newReadyLatch,
  resolveAgentSettings,
  serveTunnelSocket,
  type AgentSettings,
  type ProxyLink,
  type TunnelAgentOptions,
  type TunnelAgentState,
} from './agent.js';
import { publishTunnelDiagnostic, reasonOf } from './diagnostics.js';

/** What the agent should reach: the live proxies' ids, and how many tunnels to keep (none: one to each). */
export interface TunnelPoolTarget {
  proxyIds: readonly string[];
  /** `proxy_peering`'s `agent_connection_count`; undefined for `agent_mesh`. */
  connectionCount?: number;
}

/** Options of {@link startTunnelPool}. */
export interface TunnelPoolOptions extends Omit<TunnelAgentOptions, 'connect'> {
  /**
   * Dials the proxy address once (TLS done, ALPN and the proxy's certificate checked) and says which proxy
   * answered: the host id from its certificate.
   */
  connect: (signal: AbortSignal) => Promise<{ socket: TLSSocket; proxyId: string }>;
  /** The proxies to reach now. A failure keeps the last answer. */
  discover: () => Promise<TunnelPoolTarget>;
  /** How often `discover` is asked again (jittered by ±20%). Default 10 s. */
  discoveryIntervalMs?: number;
  /** The set of proxies with a live tunnel changed (e.g. to put it in the agent's heartbeats). */
  onProxiesChanged?: (proxyIds: readonly string[]) => void;
}

/** A running pool. */
export interface TunnelPool {
  /** `connected` while at least one tunnel is up. */
  readonly state: TunnelAgentState;
  /** Resolves when the first tunnel is up; rejects only if the pool is closed before that. */
  readonly ready: Promise<void>;
  /** Ids of the proxies with a live tunnel, sorted. */
  connectedProxies(): string[];
  /**
   * Asks `discover` now (a proxy's heartbeat changed); the pool dials at once, its backoff reset, if the target
   * changed or a tunnel is missing (a restarted proxy's first heartbeat: it is back).
   */
  rediscover(): void;
  /**
   * Replaces every tunnel, one at a time (the agent's certificate was renewed): a new tunnel to the proxy is up
   * before the old one stops taking new streams (the mux's GOAWAY); streams on the old one run to their end.
   */
  renew(): void;
  /** Stops dialing and drops every tunnel. */
  close(): Promise<void>;
}

/** Default discovery interval. */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 10_000;

/**
 * A tunnel is dropped for a proxy missing from discovery only when it is older than this, or than one discovery
 * interval if shorter (the proxy's first heartbeat may lag behind its listener).
 */
const LEFT_PROXY_GRACE_MS = 5_000;

interface PoolLink extends ProxyLink {
  proxyId: string;
  /** `performance.now()` when it was dialed. */
  dialedAt: number;
  done: Promise<void>;
  /** Dropped by the pool (the proxy left, or one tunnel too many). */
  closingOnPurpose?: boolean;
}

interface PoolState {
  options: TunnelPoolOptions;
  agent: AgentSettings;
  backoff: BackoffOptions;
  discoveryIntervalMs: number;
  closing: AbortController;
  links: Map<string, PoolLink>;
  target: TunnelPoolTarget;
  /** When `target` was last asked for (performance.now()), or -Infinity. */
  discoveredAt: number;
  /** The jittered interval until the next ask after `discoveredAt`. */
  nextDiscoveryMs: number;
  /** A `rediscover()` is running / another was asked meanwhile / it changed the target. */
  rediscovering: boolean;
  rediscoverAgain: boolean;
  targetChanged: boolean;
  wakeUp: (() => void) | undefined;
  reported: string;
  /** A tunnel broke since the last dial: wait a jittered moment first, so agents do not all redial at once. */
  linkLost: boolean;
  /** Tunnels dialed before this (performance.now()) are replaced, one at a time. */
  renewBefore: number;
}

/**
 * Starts the pool.
 *
 * @example
 * ```ts
 * const pool = startTunnelPool({
 *   connect: (signal) => dialThroughLoadBalancer(signal), // resolves { socket, proxyId }
 *   discover: async () => ({ proxyIds: (await auth.getProxies()).map((p) => p.metadata.name) }),
 *   onStream: (meta, stream) => serve(meta, stream),
 *   onProxiesChanged: (ids) => heartbeat.setProxyIds(ids),
 * });
 * await pool.ready;
 * ```
 */
export function startTunnelPool(options: TunnelPoolOptions): TunnelPool {
  const closing = new AbortController();
  const ready = newReadyLatch();
  const s: PoolState = {
    options,
    agent: resolveAgentSettings({ ...options, connect: () => Promise.reject(new TypeError('unused')) }, closing.signal, ready.resolve),
    backoff: { ...DEFAULT_TUNNEL_BACKOFF, ...options.backoff },
    discoveryIntervalMs: options.discoveryIntervalMs ?? DEFAULT_DISCOVERY_INTERVAL_MS,
    closing,
    links: new Map(),
    target: { proxyIds: [] },
    discoveredAt: Number.NEGATIVE_INFINITY,
    nextDiscoveryMs: 0,
    rediscovering: false,
    rediscoverAgain: false,
    targetChanged: false,
    wakeUp: undefined,
    reported: '',
    linkLost: false,
    renewBefore: Number.NEGATIVE_INFINITY,
  };
  const done = keepPoolFilled(s);
  return {
    get state() {
      if (closing.signal.aborted) return 'closed';
      return [...s.links.values()].some((l) => l.state === 'connected') ? 'connected' : 'connecting';
    },
    ready: ready.promise,
    connectedProxies: () => connectedProxies(s),
    rediscover: () => void rediscover(s),
    renew() {
      s.renewBefore = performance.now();
      s.wakeUp?.();
    },
    async close() {
      if (!closing.signal.aborted) {
        closing.abort(new ConnectionProblemError('the tunnel agent is closed'));
        ready.reject(new ConnectionProblemError('the tunnel agent was closed before it connected'));
        s.wakeUp?.();
        for (const link of s.links.values()) dropLink(link);
      }
      await done;
      await Promise.all([...s.links.values()].map((l) => l.done));
    },
  };
}

function connectedProxies(s: PoolState): string[] {
  return [...s.links.values()].filter((l) => l.state === 'connected').map((l) => l.proxyId).sort();
}

/** Tells `onProxiesChanged` when the set of connected proxies changed. */
function reportProxies(s: PoolState): void {
  const ids = connectedProxies(s);
  const key = ids.join(',');
  if (key === s.reported || s.closing.signal.aborted) return;
  s.reported = key;
  s.options.onProxiesChanged?.(ids);
}

/** How many tunnels the target asks for: N with peering, else one per live proxy (at least one). */
function wantedTunnels(target: TunnelPoolTarget): number {
  if (target.connectionCount !== undefined) return Math.max(1, target.connectionCount);
  return Math.max(1, target.proxyIds.length);
}

/** Asks `discover` again when the last answer is too old; true when the set of proxies changed. */
async function refreshTarget(s: PoolState, force = false): Promise<boolean> {
  const now = performance.now();
  if (!force && now - s.discoveredAt < s.nextDiscoveryMs) return false;
  s.discoveredAt = now;
  s.nextDiscoveryMs = s.discoveryIntervalMs * (0.8 + 0.4 * Math.random());
  try {
    const next = await s.options.discover();
    const before = `${[...s.target.proxyIds].sort().join(',')}/${s.target.connectionCount}`;
    s.target = { proxyIds: [...next.proxyIds], ...(next.connectionCount !== undefined ? { connectionCount: next.connectionCount } : {}) };
    return before !== `${[...s.target.proxyIds].sort().join(',')}/${s.target.connectionCount}`;
  } catch (err) {
    publishTunnelDiagnostic({ event: 'connect-failed', side: 'agent', attempt: 0, reason: `proxy discovery failed: ${reasonOf(err)}` });
    return false;
  }
}

/** Asks `discover` now (one ask at a time; one more if asked meanwhile); wakes the loop if the target changed. */
async function rediscover(s: PoolState): Promise<void> {
  if (s.rediscovering) {
    s.rediscoverAgain = true;
    return;
  }
  s.rediscovering = true;
  try {
    do {
      s.rediscoverAgain = false;
      // A changed target, or a heartbeat while a tunnel is missing (a proxy that restarted announces itself): dial now.
      const changed = await refreshTarget(s, true);
      if ((changed || missingTunnels(s)) && !s.closing.signal.aborted) {
        s.targetChanged = true;
        s.wakeUp?.();
      }
    } while (s.rediscoverAgain && !s.closing.signal.aborted);
  } finally {
    s.rediscovering = false;
  }
}

/** Fewer live tunnels than the target asks for. */
function missingTunnels(s: PoolState): boolean {
  return [...s.links.values()].filter((l) => !l.closingOnPurpose).length < wantedTunnels(s.target);
}

/**
 * Drops tunnels to proxies that left the cluster, and tunnels beyond the connection count. Returns how long until an
 * unlisted tunnel spared for its youth should be looked at again (Infinity if none).
 */
function pruneLinks(s: PoolState): number {
  const listed = new Set(s.target.proxyIds);
  const now = performance.now();
  const grace = Math.min(LEFT_PROXY_GRACE_MS, s.discoveryIntervalMs);
  const links = [...s.links.values()].filter((l) => !l.closingOnPurpose);
  let recheckInMs = Number.POSITIVE_INFINITY;
  for (const link of links) {
    if (listed.size === 0 || listed.has(link.proxyId)) continue;
    if (now - link.dialedAt > grace) closeLink(link);
    else recheckInMs = Math.min(recheckInMs, grace - (now - link.dialedAt) + 1);
  }
  const kept = links.filter((l) => !l.closingOnPurpose);
  const extra = kept.length - wantedTunnels(s.target);
  if (s.target.connectionCount !== undefined && extra > 0) for (const link of kept.slice(-extra)) closeLink(link);
  return recheckInMs;
}

function closeLink(link: PoolLink): void {
  link.closingOnPurpose = true;
  dropLink(link);
}

/** Waits `ms`, or until something wakes the pool (a tunnel closed, the pool closes). */
function pause(s: PoolState, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      s.wakeUp = undefined;
      resolve();
    }
    s.wakeUp = done;
  });
}

/** The pool's loop: discover, prune, dial while tunnels are missing, back off after a failure or a proxy already reached. */
async function keepPoolFilled(s: PoolState): Promise<void> {
  let attempt = 0;
  while (!s.closing.signal.aborted) {
    if ((await refreshTarget(s)) || s.targetChanged) attempt = 0;
    s.targetChanged = false;
    const recheckInMs = pruneLinks(s);
    const live = [...s.links.values()].filter((l) => !l.closingOnPurpose).length;
    if (live >= wantedTunnels(s.target)) {
      attempt = 0;
      if (staleLink(s) !== undefined) {
        // One tunnel at a time, a jittered moment apart: the proxies do not see all agents redial at once.
        if ((await dialOnce(s, 0, true)) === 'failed') s.discoveredAt = Number.NEGATIVE_INFINITY;
        await pause(s, jitteredBackoff(0, s.backoff));
        continue;
      }
      await pause(s, Math.max(0, Math.min(recheckInMs, s.nextDiscoveryMs - (performance.now() - s.discoveredAt))));
      continue;
    }
    if (s.linkLost) {
      s.linkLost = false;
      await pause(s, jitteredBackoff(0, s.backoff));
      continue;
    }
    const outcome = await dialOnce(s, attempt);
    if (s.closing.signal.aborted) break;
    if (outcome === 'new') {
      attempt = 0;
      continue;
    }
    const delayMs = jitteredBackoff(attempt, s.backoff);
    attempt++;
    publishTunnelDiagnostic({ event: 'backoff', side: 'agent', attempt, delayMs });
    await pause(s, delayMs);
    // A proxy we could not reach may have left: ask again before the next round.
    if (outcome === 'failed') s.discoveredAt = Number.NEGATIVE_INFINITY;
  }
}

/** A live tunnel dialed before the last `renew()`, if any. */
function staleLink(s: PoolState): PoolLink | undefined {
  return [...s.links.values()].find((l) => !l.closingOnPurpose && l.dialedAt < s.renewBefore);
}

/** Waits until a new tunnel is up (or gone, or too long), before the one it replaces stops taking streams. */
async function replaceLink(s: PoolState, old: PoolLink, fresh: PoolLink): Promise<void> {
  const deadline = performance.now() + s.agent.connectTimeoutMs;
  while (fresh.state !== 'connected' && fresh.state !== 'closed' && performance.now() < deadline && !s.closing.signal.aborted) {
    await new Promise((r) => setTimeout(r, 25));
  }
  if (fresh.state !== 'connected') return;
  old.closingOnPurpose = true;
  // GOAWAY: the proxy opens no new stream on it; the streams running finish, then it closes.
  if (old.current?.session && !old.current.session.closed) old.current.session.goAway();
  else dropLink(old);
}

/**
 * One dial: a tunnel to a proxy not reached yet (`new`), one already reached (`duplicate`), or a failure. With
 * `replace`, a tunnel to a proxy whose tunnel is stale takes its place.
 */
async function dialOnce(s: PoolState, attempt: number, replace = false): Promise<'new' | 'duplicate' | 'failed'> {
  publishTunnelDiagnostic({ event: 'connecting', side: 'agent', attempt });
  const signal = AbortSignal.any([s.closing.signal, AbortSignal.timeout(s.agent.connectTimeoutMs)]);
  let dialed: { socket: TLSSocket; proxyId: string };
  try {
    dialed = await s.options.connect(signal);
  } catch (err) {
    publishTunnelDiagnostic({ event: 'connect-failed', side: 'agent', attempt, reason: reasonOf(err) });
    return 'failed';
  }
  const { socket, proxyId } = dialed;
  const existing = s.links.get(proxyId);
  const replacing = replace && existing !== undefined && existing.dialedAt < s.renewBefore;
  if (s.closing.signal.aborted || (existing !== undefined && !replacing)) {
    socket.destroy();
    return 'duplicate';
  }
  socket.on('error', (err) => publishTunnelDiagnostic({ event: 'session-error', side: 'agent', reason: reasonOf(err) }));
  socket.setNoDelay(true);
  const fresh = startLink(s, proxyId, socket, signal, replacing);
  if (replacing) await replaceLink(s, existing, fresh);
  return 'new';
}

/** Serves a tunnel on a dialed socket until it closes; then the pool is woken to fill the gap. */
function startLink(s: PoolState, proxyId: string, socket: TLSSocket, handshakeAbort: AbortSignal, replacing = false): PoolLink {
  const link: PoolLink = { proxyId, state: 'connecting', current: { socket }, wakeUp: undefined, dialedAt: performance.now(), done: Promise.resolve() };
  // A replacement takes the old tunnel's place once it is up (the proxy stays listed as connected meanwhile).
  if (!replacing) s.links.set(proxyId, link);
  const settings: AgentSettings = {
    ...s.agent,
    onConnected: () => {
      if (replacing) s.links.set(proxyId, link);
      s.agent.onConnected();
      reportProxies(s);
    },
  };
  link.done = serveTunnelSocket(settings, link, socket, handshakeAbort)
    .then(
      () => undefined,
      (err: unknown) => publishTunnelDiagnostic({ event: 'connect-failed', side: 'agent', attempt: 0, reason: reasonOf(err) }),
    )
    .finally(() => {
      link.state = 'closed';
      link.current = undefined;
      if (s.links.get(proxyId) === link) s.links.delete(proxyId);
      if (!link.closingOnPurpose) s.linkLost = true;
      reportProxies(s);
      s.wakeUp?.();
    });
  return link;
}
