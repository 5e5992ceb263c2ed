/**
 * The process's Prometheus metrics (served on `diag_addr` at `/metrics`, with prom-client) and the backend probe
 * behind `/readyz`: backend request latency and errors, backend reachability, reverse tunnels per proxy (agents)
 * and connected agents (proxies), plus Node's default process metrics.
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Backend } from '@teleport-ts/core/backend';
import { isTeleportError, redact } from '@teleport-ts/core/errors';

/** Backend operations that are timed. */
const TIMED_OPERATIONS = new Set([
  'get',
  'getRange',
  'create',
  'put',
  'update',
  'compareAndSwap',
  'conditionalUpdate',
  'conditionalDelete',
  'delete',
  'deleteRange',
  'keepAlive',
  'atomicWrite',
]);

/** Answers that are the backend working as asked, not failing. */
const EXPECTED_KINDS = new Set(['not-found', 'already-exists', 'compare-failed']);

/** How often the backend is probed for `/readyz`, and how long a probe may take. */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_000;

export interface ProcessMetrics {
  readonly registry: Registry;
  /** The backend with every operation timed and its failures counted. */
  instrumentBackend(backend: Backend): Backend;
  /** Tunnels read at scrape time: the proxies an agent holds tunnels to, the agents connected to a proxy. */
  watchTunnels(source: { agentProxies?: () => readonly string[]; proxyAgents?: () => number }): void;
  /** Probes the backend until closed; `problem()` says why it is not reachable, or undefined. */
  probeBackend(backend: Backend): { problem(): string | undefined; close(): void };
}

/** @example `const metrics = newProcessMetrics(); const backend = metrics.instrumentBackend(raw);` */
export function newProcessMetrics(): ProcessMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latency = new Histogram({
    name: 'teleport_backend_request_duration_seconds',
    help: 'Latency of backend requests, by operation.',
    labelNames: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const errors = new Counter({ name: 'teleport_backend_errors_total', help: 'Backend requests that failed, by operation.', labelNames: ['operation'], registers: [registry] });
  const up = new Gauge({ name: 'teleport_backend_up', help: '1 when the last backend probe succeeded.', registers: [registry] });
  let sources: Parameters<ProcessMetrics['watchTunnels']>[0] = {};
  new Gauge({
    name: 'teleport_reverse_tunnels',
    help: 'Reverse tunnels this agent holds, by proxy (host id).',
    labelNames: ['proxy'],
    registers: [registry],
    collect() {
      this.reset();
      for (const proxy of sources.agentProxies?.() ?? []) this.set({ proxy }, 1);
    },
  });
  new Gauge({
    name: 'teleport_proxy_connected_agents',
    help: 'Agents with a live reverse tunnel to this proxy.',
    registers: [registry],
    collect() {
      if (sources.proxyAgents) this.set(sources.proxyAgents());
    },
  });
  return {
    registry,
    instrumentBackend: (backend) => timedBackend(backend, latency, errors),
    watchTunnels: (source) => {
      sources = { ...sources, ...source };
    },
    probeBackend: (backend) => startBackendProbe(backend, up),
  };
}

function timedBackend(backend: Backend, latency: Histogram<'operation'>, errors: Counter<'operation'>): Backend {
  const wrappers = new Map<string | symbol, unknown>();
  return new Proxy(backend, {
    get(target, prop) {
      // Read and call on the backend itself: drivers keep state in private fields the proxy cannot reach.
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(prop);
      if (wrapper === undefined && !(typeof prop === 'string' && TIMED_OPERATIONS.has(prop))) {
        // Drivers are classes with private fields: `newWatcher`, `close`... called with the proxy as `this` would throw.
        wrapper = (value as (...args: unknown[]) => unknown).bind(target);
        wrappers.set(prop, wrapper);
      }
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => Promise<unknown>;
        wrapper = typeof prop === 'string' && TIMED_OPERATIONS.has(prop) ? timed(prop, method.bind(target), latency, errors) : method.bind(target);
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}

function timed(operation: string, method: (...args: unknown[]) => Promise<unknown>, latency: Histogram<'operation'>, errors: Counter<'operation'>) {
  return async (...args: unknown[]): Promise<unknown> => {
    const end = latency.startTimer({ operation });
    try {
      return await method(...args);
    } catch (err) {
      if (!(isTeleportError(err) && EXPECTED_KINDS.has(err.kind))) errors.inc({ operation });
      throw err;
    } finally {
      end();
    }
  };
}

/** Reads a key that does not exist every second: not-found is an answer, anything else (or no answer) is a problem. */
function startBackendProbe(backend: Backend, up: Gauge): { problem(): string | undefined; close(): void } {
  let problem: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const probe = async (): Promise<void> => {
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        backend.get('/teleport-ts/readyz-probe'),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
        }),
      ]);
      problem = undefined;
    } catch (err) {
      problem = isTeleportError(err) && err.kind === 'not-found' ? undefined : `backend unreachable: ${redact(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err))}`;
    } finally {
      clearTimeout(timeout);
    }
    up.set(problem === undefined ? 1 : 0);
    if (!closed) timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS);
  };
  void probe();
  return {
    problem: () => problem,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
