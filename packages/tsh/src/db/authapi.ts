/**
 * The few auth API calls the db commands make, over node:https through the proxy's `teleport-auth` passthrough: mTLS
 * with the user's TLS key, the auth server verified against the cluster's host CAs under its fixed name
 * (`teleport.cluster.local`). The same routes and wire shapes as `newAuthClient` in `@teleport-ts/core/api`, without
 * loading undici and the X.509 library behind that module (about 200 ms of `tsh db ...` start-up).
 */

import https from 'node:https';
import type { Database, DatabaseServer, UserCerts, UserCertsRequest } from '@teleport-ts/core/api';
import { ConnectionProblemError } from '@teleport-ts/core/errors';
import { parseRole, type Role } from '@teleport-ts/core/types';
import { readJsonResponse } from '../json-response.js';

/** The TLS name every auth server certificate carries (`AUTH_SERVER_NAME` in core/api). */
const AUTH_SERVER_NAME = 'teleport.cluster.local';
/**
 * `teleport-auth` makes the proxy pass the connection through to the auth server untouched; the auth server itself
 * then picks `http/1.1` (`AUTH_VIA_PROXY_ALPN` in core/api).
 */
const ALPN_PROTOCOLS = ['teleport-auth', 'http/1.1'];

export interface AuthApiOptions {
  /** The proxy: `host` and `port` of its web listener. */
  host: string;
  port: number;
  key: string;
  cert: string;
  /** The cluster's host CA certificates. */
  caCerts: readonly string[];
  timeoutMs?: number;
}

export interface AuthApi {
  getDatabaseServers(): Promise<DatabaseServer[]>;
  getRole(name: string): Promise<Role>;
  generateUserCerts(request: UserCertsRequest): Promise<UserCerts>;
  close(): void;
}

export type { Database };

/**
 * @example
 * ```ts
 * const api = newAuthApi({ host: 'proxy.example.com', port: 3080, key, cert, caCerts });
 * const servers = await api.getDatabaseServers();
 * ```
 */
export function newAuthApi(options: AuthApiOptions): AuthApi {
  const agent = new https.Agent({
    keepAlive: true,
    cert: options.cert,
    key: options.key,
    ca: [...options.caCerts],
    servername: AUTH_SERVER_NAME,
    ALPNProtocols: ALPN_PROTOCOLS,
    rejectUnauthorized: true,
  } as https.AgentOptions);
  const addr = `${options.host}:${options.port}`;

  const call = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        {
          host: options.host,
          port: options.port,
          method,
          path,
          agent,
          servername: AUTH_SERVER_NAME,
          timeout: options.timeoutMs ?? 30_000,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          readJsonResponse<T>(res, `the auth server through ${addr}`, (err) => err).then(resolve, reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? '';
        if (code === 'ECONNREFUSED') reject(new ConnectionProblemError(`failed to connect to proxy ${addr}: connection refused`));
        else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
          reject(new ConnectionProblemError(`failed to verify the auth server through proxy ${addr} (${code})`, { hint: 'log in again with tsh login' }));
        } else reject(new ConnectionProblemError(`failed to reach the auth server through proxy ${addr}: ${code || err.message}`));
      });
      req.end(payload);
    });
  };

  return {
    getDatabaseServers: async () => (await call<{ items: DatabaseServer[] }>('GET', '/v1/dbservers')).items,
    getRole: async (name) => parseRole(await call<unknown>('GET', `/v1/roles/${encodeURIComponent(name)}`)),
    generateUserCerts: (request) => call<UserCerts>('POST', '/v1/certs/user', request),
    close: () => agent.destroy(),
  };
}
