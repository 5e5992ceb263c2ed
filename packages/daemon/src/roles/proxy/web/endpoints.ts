/**
 * The JSON endpoints of the proxy's web API (Teleport's `/webapi/...` and `/v1/webapi/...`): ping, the login that
 * returns certificates, and reading and completing an invite or reset token. Each is a function of a
 * {@link WebApiContext} and the request fields; {@link registerWebApiRoutes} puts them on a router.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { sshCaExportLines, tlsCaExportPem, type CertAuthority, type CertAuthorityType } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { BadParameterError, isTeleportError } from '@teleport-ts/core/errors';
import { VERSION } from '@teleport-ts/core/version';
import { streamResult, type Handler, type Router, type StreamResult } from '../../../http/router.js';
import type { RateLimiter } from '../ratelimit.js';
import { qrSvg } from './qr.js';

/** What the proxy asks of the auth server. */
export type ProxyAuthApi = Pick<AuthClient, 'ping' | 'getUserToken' | 'completeUserToken' | 'authenticateUser' | 'getCertAuthorities'>;

/** Where the proxy reads the cluster's CAs (its cache when it has one). */
export type ProxyCaReads = Pick<AuthClient, 'getCertAuthorities'>;

type AuthPing = Awaited<ReturnType<ProxyAuthApi['ping']>>;

/** Default certificate TTL when the client asks for none (Teleport's `apidefaults.CertDuration`). */
const DEFAULT_CERT_TTL_MS = 12 * 3600_000;
/** Largest TTL the proxy forwards (Teleport's `defaults.MaxCertDuration`); the user's roles cap it further. */
const MAX_CERT_TTL_MS = 30 * 3600_000;
/** Smallest TTL (a shorter one is raised to this). */
const MIN_CERT_TTL_MS = 60_000;
/** How long a ping answer from the auth server is reused. */
const PING_CACHE_MS = 2_000;
/** Bounds on string fields of unauthenticated requests. */
export const MAX_FIELD = { user: 256, password: 1024, otp: 16, key: 16 * 1024, token: 512 } as const;

/** What every endpoint and page of the web API works with. */
export interface WebApiContext {
  auth: ProxyAuthApi;
  /** The CAs `/webapi/auth/export` serves the public keys of. */
  cas: ProxyCaReads;
  /** The auth server's ping, reused for {@link PING_CACHE_MS}. */
  authPing: () => Promise<AuthPing>;
  /** `host:port` users reach the proxy at. */
  publicAddr: string;
  /** Per-address limit on the routes that check a secret (login, invite and reset tokens). */
  limiter: RateLimiter;
  /** Per-address limit on the CA export, a bucket of its own: a tsh refreshing its host CAs takes no login's token. */
  exportLimiter: RateLimiter;
}

/** A ping of the auth server that reuses its answer for a short while (every login and page asks for it), and the last answer while the auth server is unreachable. */
export function newCachedAuthPing(auth: ProxyAuthApi, clock: Clock): () => Promise<AuthPing> {
  let cache: { at: number; value: AuthPing } | undefined;
  return async () => {
    const now = clock.now().getTime();
    if (cache && now - cache.at < PING_CACHE_MS && now >= cache.at) return cache.value;
    let value: AuthPing;
    try {
      value = await auth.ping();
    } catch (err) {
      // The auth server is unreachable or busy: what it said last still describes the cluster (tsh pings before db commands).
      if (cache && isTeleportError(err) && (err.kind === 'connection-problem' || err.kind === 'limit-exceeded')) return cache.value;
      throw err;
    }
    cache = { at: now, value };
    return value;
  };
}

function str(body: Record<string, unknown>, key: string, max: number, required: boolean): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new BadParameterError(`missing ${key}`);
    return undefined;
  }
  if (typeof v !== 'string') throw new BadParameterError(`${key} must be a string`);
  if (v.length > max) throw new BadParameterError(`${key} is too long`);
  return v;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadParameterError('request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * The TTL to ask the auth server for, in ms, from Teleport's `ttl` field (a Go duration: nanoseconds).
 * Absent or zero means the default; the result is clamped to [1 min, 30 h].
 */
function requestedTtlMs(ttl: unknown): number {
  if (ttl === undefined || ttl === null || ttl === 0) return DEFAULT_CERT_TTL_MS;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) throw new BadParameterError('ttl must be a positive duration in nanoseconds');
  return Math.min(MAX_CERT_TTL_MS, Math.max(MIN_CERT_TTL_MS, Math.floor(ttl / 1e6)));
}

/** `min_client_version`: clients older than this major are refused by Teleport's tsh; ours is informational. */
function minClientVersion(version: string = VERSION): string {
  const major = /^(\d+)\./.exec(version)?.[1] ?? '0';
  return `${major}.0.0`;
}

/** `GET /webapi/ping`: Teleport's ping answer, built from the auth server's. */
async function webPing(ctx: WebApiContext): Promise<unknown> {
  const p = await ctx.authPing();
  const addr = ctx.publicAddr;
  return {
    auth: {
      type: p.authPreference.type,
      second_factor: p.authPreference.secondFactor,
      preferred_local_mfa: p.authPreference.secondFactor === 'off' ? '' : 'otp',
      local: { name: '' },
      allow_passwordless: false,
      has_motd: false,
    },
    proxy: {
      ssh: { listen_addr: addr, web_listen_addr: addr, public_addr: addr },
      db: { postgres_public_addr: addr },
      tls_routing_enabled: true,
    },
    server_version: VERSION,
    min_client_version: minClientVersion(),
    cluster_name: p.clusterName,
    automatic_upgrades: false,
  };
}

/** `POST /webapi/ssh/certs`: password (+ OTP) login; the auth server checks the credentials and signs the keys. */
async function webSshCerts(ctx: WebApiContext, body: unknown, clientAddr: string): Promise<unknown> {
  const b = objectBody(body);
  const user = str(b, 'user', MAX_FIELD.user, true)!;
  const password = str(b, 'password', MAX_FIELD.password, true)!;
  const otp = str(b, 'otp_token', MAX_FIELD.otp, false);
  const sshPublicKey = str(b, 'pub_key', MAX_FIELD.key, false) ?? str(b, 'ssh_pub_key', MAX_FIELD.key, true)!;
  const tlsPublicKey = str(b, 'tls_pub_key', MAX_FIELD.key, true)!;
  const ttl = requestedTtlMs(b['ttl']);
  const [certs, p] = await Promise.all([
    ctx.auth.authenticateUser({ user, password, ...(otp !== undefined ? { otp } : {}), sshPublicKey, tlsPublicKey, ttl, ...(clientAddr ? { clientAddr } : {}) }),
    ctx.authPing(),
  ]);
  return {
    username: certs.username,
    cert: certs.sshCert,
    tls_cert: certs.tlsCert,
    host_signers: [{ domain_name: p.clusterName, checking_keys: certs.sshCaKeys, tls_certs: certs.tlsCaCerts }],
  };
}

/** `GET /webapi/users/password/token/:token`: who the token is for, and the TOTP secret with its QR code. */
async function webGetUserToken(ctx: WebApiContext, token: string): Promise<unknown> {
  if (token.length > MAX_FIELD.token) throw new BadParameterError('token is too long');
  const details = await ctx.auth.getUserToken(token);
  return {
    user: details.user,
    kind: details.kind,
    expiry: details.expires,
    ...(details.totp ? { totp: { secret: details.totp.secret, url: details.totp.url, qr_code_svg: qrSvg(details.totp.url, { title: 'QR code' }) } } : {}),
  };
}

/** `PUT /webapi/users/password/token`: sets the password (and registers the OTP device) with the token. */
async function webCompleteUserToken(ctx: WebApiContext, body: unknown): Promise<unknown> {
  const b = objectBody(body);
  const tokenId = str(b, 'token', MAX_FIELD.token, true)!;
  const password = str(b, 'password', MAX_FIELD.password, true)!;
  const otpCode = str(b, 'second_factor_token', MAX_FIELD.otp, false);
  const res = await ctx.auth.completeUserToken({ tokenId, password, ...(otpCode !== undefined ? { otpCode } : {}) });
  return { user: res.user };
}

/** `type` values of `GET /webapi/auth/export` (Teleport's public export; `tls` is the old name of `tls-host`). */
const PUBLIC_EXPORT_TYPES = ['host', 'user', 'tls', 'tls-host'] as const;
/** Longest `type` echoed back in an error. */
const MAX_ECHOED_TYPE = 64;

/**
 * `GET /webapi/auth/export[?type=host|user|tls|tls-host]`: the public keys of this cluster's CAs, as `tctl auth
 * export` prints them, for clients that have no credentials yet or whose trust is stale (tsh refreshes its
 * `known_hosts` from `type=host` after a host CA rotation). No `type`: the host CA's lines, then the user CA's (as
 * Teleport's export and `tctl auth export`).
 * Public keys only, so no authentication; the answer is a few lines per CA key.
 */
async function webAuthExport(ctx: WebApiContext, query: URLSearchParams): Promise<StreamResult> {
  const type = query.get('type') ?? '';
  if (type !== '' && !(PUBLIC_EXPORT_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unsupported type ${JSON.stringify(type.slice(0, MAX_ECHOED_TYPE))}, use one of: ${PUBLIC_EXPORT_TYPES.join(', ')}`);
  }
  const { clusterName } = await ctx.authPing();
  const local = async (caType: CertAuthorityType): Promise<CertAuthority[]> => (await ctx.cas.getCertAuthorities(caType)).filter((ca) => ca.spec.cluster_name === clusterName);
  let text = '';
  if (type === 'tls' || type === 'tls-host') {
    for (const ca of await local('host')) text += tlsCaExportPem(ca);
  } else {
    for (const caType of type === '' ? (['host', 'user'] as const) : [type as 'user' | 'host']) {
      for (const ca of await local(caType)) text += sshCaExportLines(ca);
    }
  }
  return streamResult(async (res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  });
}

/** Puts the endpoints on `router` under both of Teleport's prefixes. The router's identity is the caller's address. */
export function registerWebApiRoutes(router: Router<string>, ctx: WebApiContext): void {
  // The routes that check a secret are rate-limited, and the CA export (as in Teleport: each call reads the CAs), in a
  // bucket of its own so that tsh refreshing its host CAs after a rotation takes no login's token.
  // Ping is not: it is cached, guards nothing, and every tsh command that reaches the proxy starts with one (a shared
  // bucket made a few quick commands fail with "too many requests"); tsh asks for the export only when a node's host
  // certificate is from a CA its known_hosts does not hold yet.
  const limitedBy = (limiter: RateLimiter) => (handler: Handler<string>): Handler<string> => async (req) => {
    limiter.take(req.remoteAddr);
    return handler(req);
  };
  const limited = limitedBy(ctx.limiter);
  for (const prefix of ['/webapi', '/v1/webapi']) {
    router.add('GET', `${prefix}/ping`, () => webPing(ctx));
    router.add('GET', `${prefix}/auth/export`, limitedBy(ctx.exportLimiter)((req) => webAuthExport(ctx, req.query)));
    router.add('POST', `${prefix}/ssh/certs`, limited((req) => webSshCerts(ctx, req.body, req.identity)));
    router.add('GET', `${prefix}/users/password/token/:token`, limited((req) => webGetUserToken(ctx, req.params['token'] ?? '')));
    router.add('PUT', `${prefix}/users/password/token`, limited((req) => webCompleteUserToken(ctx, req.body)));
  }
}
