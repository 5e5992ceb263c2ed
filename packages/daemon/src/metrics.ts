/**
 * The process's Prometheus metrics (served on `diag_addr` at `/metrics`, with prom-client) and the backend probe
 * behind `/readyz`: backend request latency and errors, backend reachability, reverse tunnels per proxy (agents)
 * and connected agents (proxies), cache health, active sessions by protocol, certificates issued, failed logins,
 * audit queue depth, plus Node's default process metrics. Teleport's names where Teleport has the metric
 * (`failed_login_attempts_total`), `teleport_*` otherwise.
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent, AuditEventStore } from '@teleport-ts/core/audit';
import type { Backend } from '@teleport-ts/core/backend';
import type { BackendCache } from '@teleport-ts/core/cache';
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

/** Read at every scrape; each service adds what it has. */
interface MetricSources {
  /** The proxies an agent holds tunnels to (host ids). */
  agentProxies?: () => readonly string[];
  /** Agents connected to this proxy. */
  proxyAgents?: () => number;
  /** Caches fed by a watch, by name (`auth`, `proxy`, `db`). */
  caches?: () => readonly { name: string; cache: BackendCache }[];
  /** Sessions being served now, by protocol (`postgres`, `ssh`...). */
  activeSessions?: () => Readonly<Record<string, number>>;
  /** Audit events queued for the auth server, by service (`db`, `proxy`). */
  auditQueues?: () => Readonly<Record<string, number>>;
}

export interface ProcessMetrics {
  readonly registry: Registry;
  /** The backend with every operation timed and its failures counted. */
  instrumentBackend(backend: Backend): Backend;
  /** What is read at scrape time from the running services (tunnels, caches, sessions, audit queues). */
  watch(source: MetricSources): void;
  /** The audit store with issued certificates and failed logins counted as they are recorded. */
  observeAudit(store: AuditEventStore): AuditEventStore;
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
  const sources: MetricSources = {};
  registerTunnelGauges(registry, sources);
  registerServiceGauges(registry, sources);
  const audit = auditCounters(registry);
  return {
    registry,
    instrumentBackend: (backend) => timedBackend(backend, latency, errors),
    watch: (source) => {
      Object.assign(sources, source);
    },
    observeAudit: (store) => observedAudit(store, audit),
    probeBackend: (backend) => startBackendProbe(backend, up),
  };
}

function registerTunnelGauges(registry: Registry, sources: MetricSources): void {
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
}

/** Gauges read from the services at scrape time: caches, sessions, audit queues. */
function registerServiceGauges(registry: Registry, sources: MetricSources): void {
  const byLabel = (gauge: Gauge<string>, label: string, values: Readonly<Record<string, number>> | undefined): void => {
    gauge.reset();
    for (const [name, value] of Object.entries(values ?? {})) gauge.set({ [label]: name }, value);
  };
  new Gauge({
    name: 'teleport_cache_healthy',
    help: 'Whether a watch-fed cache serves from memory (1) or is initialising or has lost its watch (0), by cache.',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      byLabel(this, 'cache', Object.fromEntries((sources.caches?.() ?? []).map((c) => [c.name, c.cache.state() === 'ready' ? 1 : 0])));
    },
  });
  new Counter({
    name: 'teleport_cache_initializations_total',
    help: 'Times a watch-fed cache was (re)initialised, by cache: it grows on every loss of the watch.',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.caches?.() ?? []) this.inc({ cache: c.name }, c.cache.initialisations());
    },
  });
  new Gauge({
    name: 'teleport_active_sessions',
    help: 'Sessions being served now, by protocol.',
    labelNames: ['protocol'],
    registers: [registry],
    collect() {
      byLabel(this, 'protocol', sources.activeSessions?.());
    },
  });
  new Gauge({
    name: 'teleport_audit_queue_depth',
    help: 'Audit events queued for the auth server and not yet stored, by service.',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      byLabel(this, 'service', sources.auditQueues?.());
    },
  });
}

interface AuditCounters {
  failedLogins: Counter;
  certificates: Counter<'cert_type'>;
}

function auditCounters(registry: Registry): AuditCounters {
  return {
    failedLogins: new Counter({ name: 'failed_login_attempts_total', help: 'Failed logins (wrong password or second factor, locked user).', registers: [registry] }),
    certificates: new Counter({
      name: 'teleport_certificates_issued_total',
      help: 'Certificates issued by the auth server, by type (user, db, db_client, host...).',
      labelNames: ['cert_type'],
      registers: [registry],
    }),
  };
}

function countAudit(event: AuditEvent, counters: AuditCounters): void {
  if (event.event === 'user.login' && (event as { success?: unknown }).success === false) counters.failedLogins.inc();
  else if (event.event === 'cert.create') {
    const type = (event as { cert_type?: unknown }).cert_type;
    counters.certificates.inc({ cert_type: typeof type === 'string' && type !== '' ? type.slice(0, 32) : 'user' });
  }
}

/** The store, with what it records counted once stored. */
function observedAudit(store: AuditEventStore, counters: AuditCounters): AuditEventStore {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'emit') {
        return async (event: AuditEvent) => {
          await target.emit(event);
          countAudit(event, counters);
        };
      }
      if (prop === 'emitMany') {
        return async (events: readonly AuditEvent[]) => {
          await target.emitMany(events);
          for (const event of events) countAudit(event, counters);
        };
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
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
