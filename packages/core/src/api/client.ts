import https from 'node:https';
import { ConnectionProblemError, isTeleportError } from '../errors/index.js';
import { parseWith, type v } from '../schema/index.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestJson, requestJsonLines, type HttpMethod } from './http.js';

export type { HttpMethod };

/** Client credentials and trust for an mTLS API connection. */
export interface ApiTlsOptions {
  /** Client certificate chain, PEM. Absent for the unauthenticated endpoints (ping, join, user tokens). */
  cert?: string;
  /** Client private key, PEM; required with `cert`. */
  key?: string;
  /** Trusted CA certificates, PEM. */
  ca: string | string[];
  /** TLS server name to verify (SNI), when it differs from the host in `baseUrl`. */
  serverName?: string;
}

export interface ApiClientOptions {
  /** `https://host:port` of the auth API (or of the proxy forwarding it). */
  baseUrl: string;
  tls: ApiTlsOptions;
  /** Per-request timeout, default 30 s. */
  timeoutMs?: number;
  /**
   * ALPN protocols to offer, in order of preference; default `['http/1.1']`. Offer `['teleport-auth', 'http/1.1']`
   * to reach the auth API through a proxy's port (the proxy passes `teleport-auth` connections through to the auth
   * server untouched, and the auth server answers `http/1.1`); an auth server dialled directly picks `http/1.1`, so
   * the same client works with either address.
   */
  alpnProtocols?: readonly string[];
  /**
   * How errors name the server, default its `host:port` (`failed to connect to <peer>: connection refused`); e.g.
   * `proxy host:3080` for a client that reaches the auth API through a proxy.
   */
  peer?: string;
  /** Hints for failures the user can act on; `refused` defaults to one about the auth server. */
  hints?: ApiErrorHints;
  /** Local address to connect from (a host with several addresses; `pnpm bench scale` spreads agents over 127.x). */
  localAddress?: string;
}

/** Hints attached to network failures of an {@link ApiClient}. */
export interface ApiErrorHints {
  /** For a refused connection. */
  refused?: string;
  /** For a TLS verification failure (e.g. `log in again with tsh login` for a user's certificates). */
  verify?: string;
}

/** A JSON-over-HTTPS client whose failures come back as the same error kinds the server raised. */
export interface ApiClient {
  /**
   * One request. With `schema` the answer is checked against it (a malformed answer is one bad-parameter line
   * naming the route), without it the caller gets the parsed JSON as is.
   */
  call<T>(method: HttpMethod, path: string, body?: unknown, schema?: v.GenericSchema<unknown, T>): Promise<T>;
  /** A GET answered with JSON lines: each line parsed, until the server ends it or `signal` aborts. */
  stream(path: string, signal: AbortSignal): AsyncIterable<unknown>;
  close(): Promise<void>;
}

/**
 * Idle kept-alive connections close after this, before the auth server's 90 s keep-alive timeout can race a request,
 * and after the agents' 60 s heartbeat period: a heartbeat reuses its connection instead of a new TLS handshake.
 */
const IDLE_SOCKET_MS = 75_000;

/**
 * Creates the low-level API client over one keep-alive node:https agent. Errors the server returns
 * (`{ error: { kind, code, message } }`) are rethrown as `TeleportError`s of the same kind; network failures become
 * `connection-problem`.
 *
 * @example
 * ```ts
 * const api = newApiClient({ baseUrl: 'https://127.0.0.1:3025', tls: { cert, key, ca } });
 * const users = await api.call<unknown>('GET', '/v1/users');
 * ```
 */
export function newApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.baseUrl);
  if ((options.tls.cert === undefined) !== (options.tls.key === undefined)) {
    throw new TypeError('newApiClient: tls.cert and tls.key go together');
  }
  const agent = new https.Agent({
    keepAlive: true,
    timeout: IDLE_SOCKET_MS,
    ...(options.tls.cert !== undefined ? { cert: options.tls.cert, key: options.tls.key } : {}),
    ca: options.tls.ca,
    ...(options.tls.serverName ? { servername: options.tls.serverName } : {}),
    ALPNProtocols: [...(options.alpnProtocols ?? ['http/1.1'])],
    rejectUnauthorized: true,
    ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
  });
  const peer = options.peer ?? base.host;
  const port = Number(base.port) || 443;
  // `URL` keeps the brackets of an IPv6 host; the socket wants the bare address.
  const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    async call<T>(method: HttpMethod, path: string, body?: unknown, schema?: v.GenericSchema<unknown, T>): Promise<T> {
      const url = new URL(path, base);
      const answer = await requestJson({
        host,
        port,
        method,
        path: `${url.pathname}${url.search}`,
        ...(body === undefined ? {} : { body }),
        agent,
        timeoutMs: options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        peer,
        networkError: (err) => connectionProblem(peer, err, options.hints ?? {}),
      });
      return schema === undefined ? (answer as T) : parseWith(schema, answer, `response of ${method} ${url.pathname}`);
    },
    stream: (path, signal) =>
      requestJsonLines({
        host,
        port,
        path,
        agent,
        signal,
        // The server sends a line at least every 15 s: three missed heartbeats mean it is gone.
        timeoutMs: Math.max(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 45_000),
        peer,
        networkError: (err) => connectionProblem(peer, err, options.hints ?? {}),
      }),
    close: async () => agent.destroy(),
  };
}

function connectionProblem(peer: string, err: NodeJS.ErrnoException, hints: ApiErrorHints): Error {
  if (isTeleportError(err)) return err;
  const code = err.code;
  const detail = code ?? err.message ?? 'unknown error';
  if (code === 'ECONNREFUSED') {
    return new ConnectionProblemError(`failed to connect to ${peer}: connection refused`, {
      hint: hints.refused ?? 'is the auth server running, and is the address right?',
    });
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new ConnectionProblemError(`failed to verify the TLS certificate of ${peer}: ${detail}`, hints.verify ? { hint: hints.verify } : {});
  }
  return new ConnectionProblemError(`failed to reach ${peer}: ${detail}`);
}
