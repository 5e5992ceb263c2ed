/**
 * Bounds on what a client may do before it has identified itself, on every listener (the proxy's port and each of
 * its routes, the auth API, the diagnostic endpoint): a TLS handshake, then the first request's headers (an
 * absolute deadline from the handshake, not an idle timer, so one header line every few seconds does not keep a
 * connection), then its body; and a cap on such connections per source address. Established sessions (a request
 * in progress, a database session, a tunnel) are not bounded here.
 */

import type http from 'node:http';
import type net from 'node:net';

/** Deadlines of the phases before a client is identified, ms. */
export interface PreAuthDeadlines {
  /** The ClientHello and the TLS handshake. */
  handshakeMs: number;
  /** From the handshake (or the end of the previous response) to a complete request head, or a startup message. */
  headersMs: number;
  /** From a complete request head to its complete body. */
  bodyMs: number;
  /**
   * From the end of a response to the next request's complete head on a kept-alive connection (the auth API keeps
   * 90 s: longer than `core/api`'s 75 s idle client sockets, so that a server close never races a client's reuse).
   */
  keepAliveMs: number;
}

/** The defaults: a client that sends nothing, or one header line every 5 s, is cut 20 s after its handshake. */
export const DEFAULT_PRE_AUTH_DEADLINES: Readonly<PreAuthDeadlines> = Object.freeze({ handshakeMs: 10_000, headersMs: 20_000, bodyMs: 30_000, keepAliveMs: 30_000 });

/** Connections one source address may have open before they identify themselves. */
export const DEFAULT_MAX_PENDING_PER_ADDRESS = 256;

/** Counts a source address's connections that have not identified themselves yet. */
export interface PendingConnections {
  /** Counts one more for `addr`; `undefined` when it already has the maximum (the caller refuses the connection). */
  admit(addr: string): (() => void) | undefined;
  /** The limit, for the refusal's message. */
  readonly max: number;
}

/**
 * @example
 * ```ts
 * const pending = newPendingConnections(256);
 * const release = pending.admit(socket.remoteAddress ?? '');
 * if (!release) return refuse(socket);
 * identified.then(release);
 * ```
 */
export function newPendingConnections(max: number): PendingConnections {
  const counts = new Map<string, number>();
  return {
    max,
    admit(addr) {
      const n = counts.get(addr) ?? 0;
      if (n >= max) return undefined;
      counts.set(addr, n + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(addr) ?? 1) - 1;
        if (left === 0) counts.delete(addr);
        else counts.set(addr, left);
      };
    },
  };
}

/** The one-line reason a connection over the per-address limit is refused. */
export function tooManyPendingMessage(addr: string, max: number): string {
  return `too many connections from ${addr} that have not sent a request yet (limit ${max}); try again later`;
}

/**
 * Guards a server that accepts its own TCP connections (the auth API over TLS, the plain-HTTP diagnostic endpoint):
 * counts each new connection among its address's unidentified ones (over the limit it is closed and
 * `onRefused` told), bounds the TLS handshake, then the request head and body.
 *
 * @example
 * ```ts
 * guardListeningServer(httpsServer, { deadlines: DEFAULT_PRE_AUTH_DEADLINES, pending: newPendingConnections(256), tls: true });
 * ```
 */
export function guardListeningServer(
  server: http.Server,
  options: HttpGuardOptions & { pending: PendingConnections; tls: boolean; onRefused?: (remoteAddr: string, message: string) => void },
): void {
  const guard = guardHttpServer(server, options);
  const releases = new Map<string, () => void>();
  const keyOf = (s: net.Socket): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;
  server.prependListener('connection', (socket: net.Socket) => {
    const addr = socket.remoteAddress ?? '';
    const release = options.pending.admit(addr);
    if (release === undefined) {
      options.onRefused?.(addr, tooManyPendingMessage(addr, options.pending.max));
      socket.destroy();
      return;
    }
    socket.once('close', release);
    if (!options.tls) {
      guard(socket, release);
      return;
    }
    const key = keyOf(socket);
    releases.set(key, release);
    socket.once('close', () => releases.delete(key));
  });
  if (options.tls) server.on('secureConnection', (socket: net.Socket) => guard(socket, releases.get(keyOf(socket))));
}

/** Phases whose deadline passed, for the log. */
type DeadlinePhase = 'headers' | 'body';

/** The state of one guarded HTTP connection. */
interface GuardedConnection {
  timer: NodeJS.Timeout | undefined;
  /** Requests whose response has not finished (pipelining). */
  inFlight: number;
  /** Releases the connection's pending slot at its first complete request head. */
  release: (() => void) | undefined;
}

/** Puts a deadline on a connection: when it passes, the socket is destroyed and `onTimeout` told. */
function arm(conn: GuardedConnection, ms: number, fire: () => void): void {
  clearTimeout(conn.timer);
  conn.timer = setTimeout(fire, ms);
  conn.timer.unref();
}

export interface HttpGuardOptions {
  deadlines: Pick<PreAuthDeadlines, 'headersMs' | 'bodyMs' | 'keepAliveMs'>;
  onTimeout?: (phase: DeadlinePhase, remoteAddr: string) => void;
}

/**
 * Guards an HTTP server's connections: call the returned function with every connection once its TLS handshake is
 * done (or at accept for plain HTTP). Node's own `headersTimeout` is enforced only by a timer that starts when the
 * server itself listens (never for the proxy's web server, which is handed sockets) and is checked every 30 s.
 *
 * @example
 * ```ts
 * const guard = guardHttpServer(server, { deadlines: DEFAULT_PRE_AUTH_DEADLINES });
 * server.on('secureConnection', (socket) => guard(socket));
 * ```
 */
export function guardHttpServer(server: http.Server, options: HttpGuardOptions): (socket: net.Socket, release?: () => void) => void {
  const { headersMs, bodyMs, keepAliveMs } = options.deadlines;
  const conns = new WeakMap<net.Socket, GuardedConnection>();
  const expire = (socket: net.Socket, phase: DeadlinePhase): void => {
    options.onTimeout?.(phase, socket.remoteAddress ?? '');
    socket.destroy();
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    const conn = conns.get(socket);
    if (conn === undefined) return;
    conn.release?.();
    conn.release = undefined;
    conn.inFlight++;
    clearTimeout(conn.timer);
    conn.timer = undefined;
    if (!req.complete) arm(conn, bodyMs, () => !req.complete && expire(socket, 'body'));
    res.once('finish', () => {
      conn.inFlight--;
      // Keep-alive: the next request's head is due within an absolute deadline too.
      if (conn.inFlight === 0 && !socket.destroyed) arm(conn, keepAliveMs, () => expire(socket, 'headers'));
    });
  });
  return (socket, release) => {
    const conn: GuardedConnection = { timer: undefined, inFlight: 0, release };
    conns.set(socket, conn);
    arm(conn, headersMs, () => expire(socket, 'headers'));
    socket.once('close', () => {
      clearTimeout(conn.timer);
      conn.release?.();
    });
  };
}
