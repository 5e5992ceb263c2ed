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
import { ConnectionProblemError, isTeleportError } from '@teleport-ts/core/errors';
import { readStartupMessage, serializeEncryptionResponse, serializeErrorResponse, SQLSTATE } from '@teleport-ts/core/protocol/postgres';

/** ALPN protocol of database access at the proxy. */
export const ALPN_TELEPORT_POSTGRES = 'teleport-postgres';

/** How long a client has to send its startup messages, and a CancelRequest to be delivered. */
const STARTUP_TIMEOUT_MS = 30_000;
const CANCEL_TIMEOUT_MS = 10_000;
/** SSLRequest then GSSENCRequest, or the reverse: more is a confused client. */
const MAX_ENCRYPTION_REQUESTS = 2;

/** The client credentials and trust for the proxy connection. */
export interface UpstreamCredentials {
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

export type LocalProxyEvent =
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
export function proxySecureContext(ca: readonly string[], credentials: UpstreamCredentials): tls.SecureContext {
  return tls.createSecureContext({ cert: credentials.cert, key: credentials.key, ca: [...tls.rootCertificates, ...ca] });
}

/** TLS to the proxy with ALPN `teleport-postgres` and the database certificate. Resolves once the handshake is done. */
export function dialProxy(
  options: Pick<LocalProxyOptions, 'proxy' | 'insecure'>,
  secureContext: tls.SecureContext,
  session?: Buffer,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const { host, port } = options.proxy;
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ALPNProtocols: [ALPN_TELEPORT_POSTGRES],
      secureContext,
      rejectUnauthorized: !options.insecure,
      ...(session ? { session } : {}),
    });
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

/** An ErrorResponse the client prints (`psql: error: ... FATAL: <message>`), then the connection ends. */
function refuse(client: net.Socket, message: string, code: string = SQLSTATE.connectionFailure): void {
  client.end(serializeErrorResponse({ severity: 'FATAL', code, message }));
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
  const emit = options.onEvent ?? (() => {});
  const sockets = new Set<net.Socket>();
  // TLS 1.3 session tickets from the proxy: later connections resume instead of a full handshake.
  let session: Buffer | undefined;

  let context: { credentials: UpstreamCredentials; secureContext: tls.SecureContext } | undefined;

  const dial = async (): Promise<tls.TLSSocket> => {
    const credentials = await options.credentials();
    if (context?.credentials.cert !== credentials.cert || context.credentials.key !== credentials.key) {
      context = { credentials, secureContext: proxySecureContext(options.ca, credentials) };
      session = undefined;
    }
    const socket = await dialProxy(options, context.secureContext, session);
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    return socket;
  };

  const track = <T extends net.Socket>(s: T): T => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  };

  const relay = (client: net.Socket, upstream: Duplex): void => {
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', (error) => {
      emit({ type: 'client-error', error });
      closeBoth();
    });
    upstream.on('error', (error) => {
      emit({ type: 'upstream-error', error });
      closeBoth();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  };

  const handle = async (client: net.Socket): Promise<void> => {
    client.setNoDelay(true);
    const signal = AbortSignal.timeout(STARTUP_TIMEOUT_MS);
    let { message, raw } = await readStartupMessage(client, { signal });
    for (let i = 0; (message.type === 'sslRequest' || message.type === 'gssEncRequest') && i < MAX_ENCRYPTION_REQUESTS; i++) {
      client.write(serializeEncryptionResponse(false));
      ({ message, raw } = await readStartupMessage(client, { signal }));
    }
    if (message.type === 'cancelRequest') {
      // Servers never answer a CancelRequest; the client closes when it likes. Deliver it, then hang up.
      client.destroy();
      const upstream = track(await dial());
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
      emit({ type: 'cancel-forwarded' });
      return;
    }
    if (message.type !== 'startupMessage') {
      refuse(client, 'unexpected message before the startup message', SQLSTATE.protocolViolation);
      return;
    }
    let upstream: tls.TLSSocket;
    try {
      upstream = track(await dial());
    } catch (err) {
      emit({ type: 'upstream-error', error: err });
      refuse(client, `could not reach the database through the Teleport proxy: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    upstream.write(raw);
    relay(client, upstream);
  };

  const server = net.createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    handle(client).catch((error: unknown) => {
      emit({ type: 'client-error', error });
      if (!client.destroyed) {
        refuse(client, isTeleportError(error) ? error.message : 'the local proxy could not read the startup message', SQLSTATE.protocolViolation);
      }
    });
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
