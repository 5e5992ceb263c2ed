/**
 * The local database proxy of `tsh db connect` and `tsh proxy db --tunnel`: a plain TCP listener on loopback that a
 * PostgreSQL client (psql, cockroach sql, pgbench, GUI tools) connects to without credentials. For each client it
 * opens a TLS connection to the Teleport proxy with ALPN `teleport-postgres`, presenting the user's database
 * certificate, and relays the PostgreSQL protocol from the StartupMessage on.
 *
 * - SSLRequest / GSSENCRequest are answered `N`: the hop to the client is loopback, the hop to the proxy is TLS.
 * - A CancelRequest (psql's Ctrl-C) goes out on a NEW proxy connection with the same certificate, exactly as the
 *   client sent it: the database agent maps the key it handed out to the real backend.
 * - When the proxy cannot be reached, the client gets a PostgreSQL ErrorResponse it can print, not a reset.
 */

import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { BadParameterError, ConnectionProblemError } from '@teleport-ts/core/errors';
import { PG_PROTOCOL_ERROR_CODES, readClientStartup, refuseConnection, SQLSTATE } from '@teleport-ts/core/protocol/postgres';
import { coalesceWrites } from '@teleport-ts/core/stream';

/** ALPN protocol of database access at the proxy. */
const ALPN_TELEPORT_POSTGRES = 'teleport-postgres';

/** How long a CancelRequest may take to be delivered (the startup limit is the shared STARTUP_TIMEOUT_MS). */
const CANCEL_TIMEOUT_MS = 10_000;

/** The client credentials and trust for the proxy connection. */
interface UpstreamCredentials {
  /** The database certificate (PEM). */
  cert: string;
  /** The user's TLS private key (PEM). A secret. */
  key: string;
}

export interface LocalProxyOptions {
  /** The Teleport proxy: `host` and `port` of its web listener. */
  proxy: { host: string; port: number };
  /** Trusted CAs for the proxy's certificate, next to the system roots. */
  ca: readonly string[];
  insecure: boolean;
  /**
   * The credentials for the next upstream connection; called per connection, so a tunnel can renew an expiring
   * database certificate.
   */
  credentials: () => Promise<UpstreamCredentials>;
  /** `127.0.0.1` unless given. */
  host?: string;
  /** 0 (a free port) unless given. */
  port?: number;
  onEvent?: (event: LocalProxyEvent) => void;
}

type LocalProxyEvent =
  | { type: 'upstream-error'; error: unknown }
  | { type: 'client-error'; error: unknown }
  | { type: 'cancel-forwarded' };

export interface LocalProxy {
  host: string;
  port: number;
  /** Stops listening and closes every relayed connection. */
  close(): Promise<void>;
}

/**
 * The TLS context for the proxy connections: the certificate, the key and the trusted CAs. Building one parses ~150
 * system roots (tens of ms), so a local proxy makes it once per certificate, not per connection.
 */
function proxySecureContext(ca: readonly string[], credentials: UpstreamCredentials): tls.SecureContext {
  return tls.createSecureContext({ cert: credentials.cert, key: credentials.key, ca: [...tls.rootCertificates, ...ca] });
}

/**
 * TLS session resumption towards the proxy: the ticket to offer, where a new one goes, and whether this connection
 * should take one (asked once the handshake is done).
 */
interface Resumption {
  session: Buffer | undefined;
  take: (session: Buffer) => void;
  wanted: (socket: tls.TLSSocket) => boolean;
}

/** TLS to the proxy with ALPN `teleport-postgres` and the database certificate. Resolves once the handshake is done. */
function dialProxy(options: Pick<LocalProxyOptions, 'proxy' | 'insecure'>, secureContext: tls.SecureContext, resumption: Resumption): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const { host, port } = options.proxy;
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ALPNProtocols: [ALPN_TELEPORT_POSTGRES],
      secureContext,
      rejectUnauthorized: !options.insecure,
    });
    // Given as an option, tls.connect decodes the session twice (in the socket's constructor and again in connect);
    // set here, before the TCP connection is up, it is decoded once. `setSession` is what tls.connect itself calls
    // (public on TLSSocket since Node 0.x, missing from the type definitions).
    if (resumption.session !== undefined) (socket as tls.TLSSocket & { setSession(session: Buffer): void }).setSession(resumption.session);
    // Serialising every ticket the proxy sends costs each connection; a ticket is taken only when one is needed. With
    // none to offer, listen from the start (a TLS 1.2 session arrives within the handshake).
    else socket.on('session', resumption.take);
    socket.setNoDelay(true);
    const fail = (err: Error): void => {
      socket.destroy();
      reject(upstreamError(`${host}:${port}`, err));
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      if (socket.alpnProtocol !== ALPN_TELEPORT_POSTGRES) {
        socket.destroy();
        reject(new ConnectionProblemError(`the proxy at ${host}:${port} does not serve database access (ALPN ${ALPN_TELEPORT_POSTGRES})`));
        return;
      }
      // TLS 1.3 tickets come after the handshake: listening now is in time for them.
      if (resumption.session !== undefined && resumption.wanted(socket)) socket.on('session', resumption.take);
      resolve(socket);
    });
  });
}

function upstreamError(addr: string, err: NodeJS.ErrnoException): Error {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new ConnectionProblemError(`failed to connect to proxy ${addr}: connection refused`);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new ConnectionProblemError(`cannot verify the TLS certificate of proxy ${addr} (${code}); rerun with --insecure to skip the check (only for testing)`);
  }
  return new ConnectionProblemError(`failed to reach proxy ${addr}: ${code || err.message}`);
}

/** What the client reads when the local proxy fails on something that is not a TeleportError. */
const UNREADABLE_STARTUP_MESSAGE = 'the local proxy could not read the startup message';

/** The local proxy's state, shared by every client connection. */
interface LocalProxyState {
  options: LocalProxyOptions;
  emit: (event: LocalProxyEvent) => void;
  /** Every open socket, both sides, closed by `close()`. */
  sockets: Set<net.Socket>;
  /**
   * A TLS session ticket from the proxy and when it came: later connections resume instead of a full handshake
   * (the proxy still gets the client certificate, from the ticket, and checks it on every connection).
   */
  session: { ticket: Buffer; at: number } | undefined;
  /** The TLS context of the current credentials (rebuilt when they change). */
  context: { credentials: UpstreamCredentials; secureContext: tls.SecureContext } | undefined;
}

function track<T extends net.Socket>(state: LocalProxyState, s: T): T {
  state.sockets.add(s);
  s.once('close', () => state.sockets.delete(s));
  return s;
}

/** A kept ticket is replaced by a fresher one after this long (a Node server's tickets live 300 s). */
const SESSION_REFRESH_MS = 60_000;

/** A new TLS connection to the proxy with the current credentials, resuming the last TLS session when it can. */
async function dialUpstream(state: LocalProxyState): Promise<tls.TLSSocket> {
  const credentials = await state.options.credentials();
  if (state.context?.credentials.cert !== credentials.cert || state.context.credentials.key !== credentials.key) {
    state.context = { credentials, secureContext: proxySecureContext(state.options.ca, credentials) };
    state.session = undefined;
  }
  const offered = state.session;
  const resumption: Resumption = {
    session: offered?.ticket,
    take: (ticket) => {
      state.session = { ticket, at: performance.now() };
    },
    wanted: (socket) => {
      if (socket.isSessionReused()) return performance.now() - offered!.at > SESSION_REFRESH_MS;
      // Not resumed (the proxy restarted, the ticket expired): stop offering it; this connection's ticket replaces it.
      if (state.session === offered) state.session = undefined;
      return true;
    },
  };
  return track(state, await dialProxy(state.options, state.context.secureContext, resumption));
}

/** Pipes both ways; an error or close on either side closes both. */
function relay(state: LocalProxyState, client: net.Socket, upstream: Duplex): void {
  const closeBoth = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', (error) => {
    state.emit({ type: 'client-error', error });
    closeBoth();
  });
  upstream.on('error', (error) => {
    state.emit({ type: 'upstream-error', error });
    closeBoth();
  });
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  coalesceWrites(client, upstream);
  coalesceWrites(upstream, client);
  client.resume();
}

/** Delivers a CancelRequest on a new proxy connection. Servers never answer one; the client closes when it likes. */
async function forwardCancel(state: LocalProxyState, client: net.Socket, raw: Buffer): Promise<void> {
  client.destroy();
  const upstream = await dialUpstream(state);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => upstream.destroy(), CANCEL_TIMEOUT_MS);
    upstream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    upstream.on('error', () => upstream.destroy());
    upstream.resume();
    // No half-close: a hop that tears down on the client's FIN could drop the request before it is relayed.
    // The server closes once it has read it.
    upstream.write(raw);
  });
  state.emit({ type: 'cancel-forwarded' });
}

/** A session: a proxy connection carrying the startup message, then the relay; a client refused when the proxy is unreachable. */
async function forwardSession(state: LocalProxyState, client: net.Socket, raw: Buffer): Promise<void> {
  let upstream: tls.TLSSocket;
  try {
    upstream = await dialUpstream(state);
  } catch (err) {
    state.emit({ type: 'upstream-error', error: err });
    const reason = `could not reach the database through the Teleport proxy: ${err instanceof Error ? err.message : String(err)}`;
    refuseConnection(client, new ConnectionProblemError(reason), { internalMessage: reason });
    return;
  }
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  upstream.write(raw);
  relay(state, client, upstream);
}

async function handleClient(state: LocalProxyState, client: net.Socket): Promise<void> {
  client.setNoDelay(true);
  const { message, raw } = await readClientStartup(client);
  if (message.type === 'cancelRequest') {
    await forwardCancel(state, client, raw);
    return;
  }
  if (message.type !== 'startupMessage') {
    const unexpected = new BadParameterError('unexpected message before the startup message', { code: PG_PROTOCOL_ERROR_CODES.malformed });
    refuseConnection(client, unexpected, { internalMessage: UNREADABLE_STARTUP_MESSAGE });
    return;
  }
  await forwardSession(state, client, raw);
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts the local proxy. Resolves once it listens.
 *
 * @example
 * ```ts
 * const lp = await startLocalProxy({ proxy: { host: 'proxy.example.com', port: 3080 }, ca: hostCAs, insecure: false,
 *   credentials: async () => ({ cert: dbCert, key: tlsKey }) });
 * // psql "postgres://alice@127.0.0.1:${lp.port}/app"
 * ```
 */
export async function startLocalProxy(options: LocalProxyOptions): Promise<LocalProxy> {
  const state: LocalProxyState = { options, emit: options.onEvent ?? (() => {}), sockets: new Set(), session: undefined, context: undefined };
  const server = net.createServer((client) => {
    track(state, client);
    client.on('error', () => client.destroy());
    handleClient(state, client).catch((error: unknown) => {
      state.emit({ type: 'client-error', error });
      // Whatever fails before the startup message is a protocol violation from the client's point of view.
      refuseConnection(client, error, { internalMessage: UNREADABLE_STARTUP_MESSAGE, code: SQLSTATE.protocolViolation });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await listen(server, host, options.port ?? 0);
  const { port } = server.address() as net.AddressInfo;
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of state.sockets) s.destroy();
      }),
  };
}
