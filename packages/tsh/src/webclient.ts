/**
 * Requests to the proxy's web API over HTTPS (core's node:https `requestJson`, so `--insecure` is one flag).
 * Failures come back as `TeleportError`s: the proxy's own errors keep their kind; TLS verification failures get
 * one clear line naming `--insecure`.
 */

import { requestJson, requestText, type TextRequest } from '@teleport-ts/core/api';
import { BadParameterError, ConnectionProblemError } from '@teleport-ts/core/errors';
import { parseWith, type v } from '@teleport-ts/core/schema';

/** The default port of the proxy's web listener. */
const DEFAULT_PROXY_PORT = 3080;

export interface ProxyTarget {
  host: string;
  port: number;
  /** `host:port` as the user gave it (with the default port filled in). */
  addr: string;
}

/** Parses `--proxy`: `host`, `host:port`, `[v6]:port`, with or without `https://`. */
export function parseProxyAddr(text: string): ProxyTarget {
  const clean = text.trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
  let host: string;
  let port = DEFAULT_PROXY_PORT;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(clean);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2]) port = Number(bracket[2]);
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(clean);
    if (!m) throw new BadParameterError(`invalid proxy address ${JSON.stringify(text)}`);
    host = m[1]!;
    if (m[2]) port = Number(m[2]);
  }
  if (host === '' || !(port > 0 && port < 65536)) throw new BadParameterError(`invalid proxy address ${JSON.stringify(text)}`);
  return { host, port, addr: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

const TLS_VERIFY_CODES: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by an unknown authority',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate is not valid for this host name',
};

/** A failure to reach the proxy as one line: TLS verification failures name `--insecure`. */
export function proxyNetworkError(target: ProxyTarget, err: NodeJS.ErrnoException): Error {
  const code = err.code ?? '';
  const tlsReason = TLS_VERIFY_CODES[code];
  if (tlsReason !== undefined) {
    return new ConnectionProblemError(
      `cannot verify the TLS certificate of proxy ${target.addr} (${tlsReason}); rerun with --insecure to skip the check (only for testing)`,
      { code: 'ERR_TP_TLS_UNTRUSTED' },
    );
  }
  if (code === 'ECONNREFUSED') return new ConnectionProblemError(`failed to connect to proxy ${target.addr}: connection refused`, { hint: 'is the proxy running, and is --proxy right?' });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ConnectionProblemError(`failed to connect to proxy ${target.addr}: unknown host ${target.host}`);
  if (code === 'ETIMEDOUT') return new ConnectionProblemError(`failed to connect to proxy ${target.addr}: timed out`);
  return new ConnectionProblemError(`failed to reach proxy ${target.addr}: ${code || err.message}`);
}

export interface ProxyRequestOptions {
  insecure: boolean;
  timeoutMs?: number;
}

/** What every request to the proxy carries: one connection, the web certificate verified unless `--insecure`. */
function toProxy(target: ProxyTarget, path: string, options: ProxyRequestOptions): Omit<TextRequest, 'maxBytes'> {
  return {
    host: target.host,
    port: target.port,
    path,
    agent: false,
    tls: { rejectUnauthorized: !options.insecure },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    peer: `proxy ${target.addr}`,
    networkError: (err) => proxyNetworkError(target, err),
  };
}

/**
 * One JSON request to the proxy, its answer checked against `schema`.
 *
 * @example
 * ```ts
 * const ping = await proxyRequest(target, 'GET', '/webapi/ping', undefined, { insecure: false }, WebPingResponse);
 * ```
 */
export async function proxyRequest<T>(
  target: ProxyTarget,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body: unknown,
  options: ProxyRequestOptions,
  schema: v.GenericSchema<unknown, T>,
): Promise<T> {
  const answer = await requestJson({ ...toProxy(target, path, options), method, body });
  return parseWith(schema, answer, `response of ${method} ${path} from proxy ${target.addr}`);
}

/**
 * One GET of a text answer from the proxy (`/webapi/auth/export`), verified as {@link proxyRequest} verifies the
 * proxy: its web certificate, unless `--insecure`. An answer over `maxBytes` is refused without being read to its
 * end; a failure status comes back as the proxy's error.
 */
export function proxyTextRequest(target: ProxyTarget, path: string, options: ProxyRequestOptions & { maxBytes: number }): Promise<string> {
  return requestText({ ...toProxy(target, path, { ...options, timeoutMs: options.timeoutMs ?? 15_000 }), maxBytes: options.maxBytes });
}
