/**
 * Requests to the proxy's web API over HTTPS (node:https, so `--insecure` is one flag and nothing else loads).
 * Failures come back as `TeleportError`s: the proxy's own errors keep their kind; TLS verification failures get
 * one clear line naming `--insecure`.
 */

import https from 'node:https';
import { BadParameterError, ConnectionProblemError } from '@teleport-ts/core/errors';
import { readJsonResponse } from './json-response.js';

/** The default port of the proxy's web listener. */
export const DEFAULT_PROXY_PORT = 3080;

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

function networkError(target: ProxyTarget, err: NodeJS.ErrnoException): Error {
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

/**
 * One JSON request to the proxy.
 *
 * @example
 * ```ts
 * const ping = await proxyRequest<PingJson>(target, 'GET', '/webapi/ping', undefined, { insecure: false });
 * ```
 */
export function proxyRequest<T>(target: ProxyTarget, method: 'GET' | 'POST' | 'PUT', path: string, body: unknown, options: ProxyRequestOptions): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<T>((resolve, reject) => {
    const req = https.request(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        agent: false,
        rejectUnauthorized: !options.insecure,
        timeout: options.timeoutMs ?? 30_000,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        readJsonResponse<T>(res, `proxy ${target.addr}`, (err) => networkError(target, err)).then(resolve, reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(networkError(target, err)));
    req.end(payload);
  });
}
