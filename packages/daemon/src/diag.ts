import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseHostPort } from '@teleport-ts/core/config';
import { DEFAULT_MAX_PENDING_PER_ADDRESS, DEFAULT_PRE_AUTH_DEADLINES, guardListeningServer, newPendingConnections, type PreAuthDeadlines } from './http/deadlines.js';
import { listenOrExplain } from './http/listen.js';

/**
 * The diagnostic endpoint (`teleport.diag_addr`): `/healthz` (the process runs), `/readyz` (it serves: started, the
 * backend answers, a db agent holds a tunnel) and `/metrics` (Prometheus).
 */
export interface DiagServer {
  /** `host:port` it listens on. */
  readonly addr: string;
  close(): Promise<void>;
}

export interface DiagServerOptions {
  /** `host:port`; port 0 picks a free one. */
  addr: string;
  /** Why the process (or one of its services: `auth`, `proxy`, `db`, `node`) is not ready, or `undefined` when it is. */
  notReadyReason: (service?: string) => string | undefined;
  /** Deadlines of a request's head and body (tests shorten them); default {@link DEFAULT_PRE_AUTH_DEADLINES}. */
  deadlines?: Partial<PreAuthDeadlines>;
  /** `/metrics`: Prometheus text. */
  metrics?: { contentType: string; text(): Promise<string> };
}

function serveMetrics(metrics: NonNullable<DiagServerOptions['metrics']>, res: ServerResponse): void {
  metrics.text().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
    () => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics unavailable\n');
    },
  );
}

/**
 * Starts the diagnostic HTTP server. `/healthz` answers 200 `{"status":"ok"}` while the process runs;
 * `/readyz` answers 200 once every started service is up and 503 `{"status":"<reason>"}` before;
 * `/readyz?service=<name>` answers for that service only (a load balancer in front of proxies checks `proxy`).
 *
 * @example
 * ```ts
 * const diag = await startDiagServer({ addr: '127.0.0.1:3000', notReadyReason: () => (authUp ? undefined : 'auth is starting') });
 * ```
 */
export async function startDiagServer(options: DiagServerOptions): Promise<DiagServer> {
  const { host, port } = parseHostPort(options.addr, 3000);
  const server: Server = createServer((req, res) => {
    const [path, query] = (req.url ?? '/').split('?', 2);
    if (path === '/metrics' && options.metrics !== undefined) {
      serveMetrics(options.metrics, res);
      return;
    }
    let status = 404;
    let body: unknown = { status: 'not found' };
    if (path === '/healthz') {
      status = 200;
      body = { status: 'ok' };
    } else if (path === '/readyz') {
      const service = new URLSearchParams(query ?? '').get('service');
      const reason = service !== null && !/^[a-z]{1,16}$/.test(service) ? 'unknown service' : options.notReadyReason(service ?? undefined);
      status = reason === undefined ? 200 : 503;
      body = { status: reason ?? 'ok' };
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  guardListeningServer(server, {
    deadlines: { ...DEFAULT_PRE_AUTH_DEADLINES, ...options.deadlines },
    tls: false,
    pending: newPendingConnections(DEFAULT_MAX_PENDING_PER_ADDRESS),
  });
  await listenOrExplain(server, { host, port }, 'teleport.diag_addr (--diag-addr)');
  const bound = server.address() as AddressInfo;
  return {
    addr: `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
