import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { Agent, request } from 'undici';
import { ConnectionProblemError, fromWireError, isTeleportError, type WireError } from '../errors/index.js';

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
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A JSON-over-HTTPS client whose failures come back as the same error kinds the server raised. */
export interface ApiClient {
  call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

/**
 * Creates the low-level API client. Errors the server returns (`{ error: { kind, code, message } }`) are
 * rethrown as `TeleportError`s of the same kind; network failures become `connection-problem`.
 *
 * @example
 * ```ts
 * const api = newApiClient({ baseUrl: 'https://127.0.0.1:3025', tls: { cert, key, ca } });
 * const users = await api.call<User[]>('GET', '/v1/users');
 * ```
 */
export function newApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.baseUrl);
  if ((options.tls.cert === undefined) !== (options.tls.key === undefined)) {
    throw new TypeError('newApiClient: tls.cert and tls.key go together');
  }
  const tlsOptions = {
    ...(options.tls.cert !== undefined ? { cert: options.tls.cert, key: options.tls.key } : {}),
    ca: options.tls.ca,
    ...(options.tls.serverName ? { servername: options.tls.serverName } : {}),
    rejectUnauthorized: true,
  };
  const dispatcher = new Agent({
    // undici always offers exactly `http/1.1`: a connector of our own offers the protocols asked for.
    connect: options.alpnProtocols === undefined ? tlsOptions : alpnConnector(tlsOptions, options.alpnProtocols, options.timeoutMs ?? 30_000),
    headersTimeout: options.timeoutMs ?? 30_000,
    bodyTimeout: options.timeoutMs ?? 30_000,
  });
  return {
    async call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
      let res;
      try {
        res = await request(new URL(path, base), {
          method,
          dispatcher,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (err) {
        throw connectionProblem(base, err);
      }
      const text = await res.body.text();
      let parsed: unknown = undefined;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new ConnectionProblemError(`unexpected response from ${base.host}: HTTP ${res.statusCode}`);
        }
      }
      if (res.statusCode >= 200 && res.statusCode < 300) return parsed as T;
      const wire = (parsed as { error?: WireError } | undefined)?.error;
      if (wire && typeof wire.kind === 'string' && typeof wire.message === 'string') throw fromWireError(wire);
      throw new ConnectionProblemError(`unexpected response from ${base.host}: HTTP ${res.statusCode}`);
    },
    close: () => dispatcher.close(),
  };
}

type Connector = (
  target: { hostname: string; port: string; servername?: string | null },
  callback: (...args: [null, import('node:net').Socket] | [Error, null]) => void,
) => void;

/** An undici connector: TLS with `options`, offering `alpnProtocols`, failing after `timeoutMs`. */
function alpnConnector(options: ConnectionOptions, alpnProtocols: readonly string[], timeoutMs: number): Connector {
  return (target, callback) => {
    const socket = connectTls({
      ...options,
      host: target.hostname,
      port: Number(target.port) || 443,
      ...(options.servername === undefined && target.servername ? { servername: target.servername } : {}),
      ALPNProtocols: [...alpnProtocols],
    });
    socket.setNoDelay(true);
    let settled = false;
    const settle = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (err === undefined) callback(null, socket);
      else {
        socket.destroy();
        callback(err, null);
      }
    };
    const onError = (err: Error): void => settle(err);
    const timer = setTimeout(() => settle(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), Math.min(timeoutMs, 10_000));
    socket.once('error', onError);
    socket.once('secureConnect', () => settle(undefined));
  };
}

function connectionProblem(base: URL, err: unknown): Error {
  if (isTeleportError(err)) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const detail = code ?? e.message ?? 'unknown error';
  if (code === 'ECONNREFUSED') {
    return new ConnectionProblemError(`failed to connect to ${base.host}: connection refused`, {
      hint: 'is the auth server running, and is the address right?',
    });
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return new ConnectionProblemError(`failed to verify the TLS certificate of ${base.host}: ${detail}`);
  }
  return new ConnectionProblemError(`failed to reach ${base.host}: ${detail}`);
}
