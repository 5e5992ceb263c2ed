/**
 * The proxy's web API (`/webapi/...` and `/v1/webapi/...`, Teleport's paths) and pages (`/web/invite/<token>`,
 * `/web/reset/<token>`). Every endpoint here is unauthenticated, so every request first takes a token from the
 * caller's address bucket. Credentials are checked by the auth server (lockout and attempt accounting stay there);
 * the proxy only shapes requests and answers.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthClient } from '@teleport-ts/core/api';
import { MIN_PASSWORD_LENGTH } from '@teleport-ts/core/authn';
import type { Clock } from '@teleport-ts/core/clock';
import { BadParameterError, isTeleportError } from '@teleport-ts/core/errors';
import { VERSION } from '@teleport-ts/core/version';
import { newRouter, type InternalErrorSink } from '../../../http/router.js';
import type { RateLimiter } from '../ratelimit.js';
import { encodeQr, qrSvg } from './qrcode.js';
import { PAGE_CSP, SECURITY_HEADERS, messagePage, userTokenPage } from './page.js';

/** What the proxy asks of the auth server. */
export type ProxyAuthApi = Pick<AuthClient, 'ping' | 'getUserToken' | 'completeUserToken' | 'authenticateUser'>;

/** Default certificate TTL when the client asks for none (Teleport's `apidefaults.CertDuration`). */
export const DEFAULT_CERT_TTL_MS = 12 * 3600_000;
/** Largest TTL the proxy forwards (Teleport's `defaults.MaxCertDuration`); the user's roles cap it further. */
export const MAX_CERT_TTL_MS = 30 * 3600_000;
/** Smallest TTL (a shorter one is raised to this). */
export const MIN_CERT_TTL_MS = 60_000;
/** How long a ping answer from the auth server is reused. */
const PING_CACHE_MS = 2_000;
/** Bounds on string fields of unauthenticated requests. */
const MAX_FIELD = { user: 256, password: 1024, otp: 16, key: 16 * 1024, token: 512 } as const;

export interface WebApiOptions {
  auth: ProxyAuthApi;
  clock: Clock;
  limiter: RateLimiter;
  /** `host:port` users reach the proxy at (public address, else the listen address). */
  publicAddr: string;
  onInternalError?: InternalErrorSink;
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
export function requestedTtlMs(ttl: unknown): number {
  if (ttl === undefined || ttl === null || ttl === 0) return DEFAULT_CERT_TTL_MS;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) throw new BadParameterError('ttl must be a positive duration in nanoseconds');
  return Math.min(MAX_CERT_TTL_MS, Math.max(MIN_CERT_TTL_MS, Math.floor(ttl / 1e6)));
}

/** `min_client_version`: clients older than this major are refused by Teleport's tsh; ours is informational. */
export function minClientVersion(version: string = VERSION): string {
  const major = /^(\d+)\./.exec(version)?.[1] ?? '0';
  return `${major}.0.0`;
}

export interface WebHandler {
  (req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Builds the request listener of the proxy's web server.
 *
 * @example
 * ```ts
 * const httpServer = http.createServer(newWebHandler({ auth, clock, limiter, publicAddr: 'proxy.example.com:3080' }));
 * ```
 */
export function newWebHandler(options: WebApiOptions): WebHandler {
  const { auth, clock, limiter, publicAddr } = options;
  // The identity of an (unauthenticated) web caller is its address, which the auth server audits logins at.
  const router = newRouter<string>(options.onInternalError);

  let pingCache: { at: number; value: Awaited<ReturnType<ProxyAuthApi['ping']>> } | undefined;
  const authPing = async (): Promise<Awaited<ReturnType<ProxyAuthApi['ping']>>> => {
    const now = clock.now().getTime();
    if (pingCache && now - pingCache.at < PING_CACHE_MS && now >= pingCache.at) return pingCache.value;
    const value = await auth.ping();
    pingCache = { at: now, value };
    return value;
  };

  const ping = async (): Promise<unknown> => {
    const p = await authPing();
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
        ssh: { listen_addr: publicAddr, web_listen_addr: publicAddr, public_addr: publicAddr },
        db: { postgres_public_addr: publicAddr },
        tls_routing_enabled: true,
      },
      server_version: VERSION,
      min_client_version: minClientVersion(),
      cluster_name: p.clusterName,
      automatic_upgrades: false,
    };
  };

  const sshCerts = async (body: unknown, clientAddr: string): Promise<unknown> => {
    const b = objectBody(body);
    const user = str(b, 'user', MAX_FIELD.user, true)!;
    const password = str(b, 'password', MAX_FIELD.password, true)!;
    const otp = str(b, 'otp_token', MAX_FIELD.otp, false);
    const sshPublicKey = str(b, 'pub_key', MAX_FIELD.key, false) ?? str(b, 'ssh_pub_key', MAX_FIELD.key, true)!;
    const tlsPublicKey = str(b, 'tls_pub_key', MAX_FIELD.key, true)!;
    const ttl = requestedTtlMs(b['ttl']);
    const [certs, p] = await Promise.all([
      auth.authenticateUser({ user, password, ...(otp !== undefined ? { otp } : {}), sshPublicKey, tlsPublicKey, ttl, ...(clientAddr ? { clientAddr } : {}) }),
      authPing(),
    ]);
    return {
      username: certs.username,
      cert: certs.sshCert,
      tls_cert: certs.tlsCert,
      host_signers: [{ domain_name: p.clusterName, checking_keys: certs.sshCaKeys, tls_certs: certs.tlsCaCerts }],
    };
  };

  const getToken = async (token: string): Promise<unknown> => {
    if (token.length > MAX_FIELD.token) throw new BadParameterError('token is too long');
    const details = await auth.getUserToken(token);
    return {
      user: details.user,
      kind: details.kind,
      expiry: details.expires,
      ...(details.totp
        ? { totp: { secret: details.totp.secret, url: details.totp.url, qr_code_svg: qrSvg(encodeQr(details.totp.url), { title: 'QR code' }) } }
        : {}),
    };
  };

  const completeToken = async (body: unknown): Promise<unknown> => {
    const b = objectBody(body);
    const tokenId = str(b, 'token', MAX_FIELD.token, true)!;
    const password = str(b, 'password', MAX_FIELD.password, true)!;
    const otpCode = str(b, 'second_factor_token', MAX_FIELD.otp, false);
    const res = await auth.completeUserToken({ tokenId, password, ...(otpCode !== undefined ? { otpCode } : {}) });
    return { user: res.user };
  };

  for (const prefix of ['/webapi', '/v1/webapi']) {
    router.add('GET', `${prefix}/ping`, () => ping());
    router.add('POST', `${prefix}/ssh/certs`, (ctx) => sshCerts(ctx.body, ctx.identity));
    router.add('GET', `${prefix}/users/password/token/:token`, (ctx) => getToken(ctx.params['token'] ?? ''));
    router.add('PUT', `${prefix}/users/password/token`, (ctx) => completeToken(ctx.body));
  }

  const identify = (req: IncomingMessage): string => {
    limiter.take(req.socket.remoteAddress ?? '');
    return clientAddrOf(req);
  };

  const page = async (req: IncomingMessage, res: ServerResponse, kind: 'invite' | 'reset', token: string): Promise<void> => {
    let status = 200;
    let html: string;
    try {
      identify(req);
      if (token === '' || token.length > MAX_FIELD.token) throw new BadParameterError('bad token');
      const [details, p] = await Promise.all([auth.getUserToken(token), authPing()]);
      html = userTokenPage({
        kind: details.kind,
        token,
        user: details.user,
        clusterName: p.clusterName,
        proxyAddr: publicAddr,
        minPasswordLength: MIN_PASSWORD_LENGTH,
        ...(details.totp ? { totp: details.totp } : {}),
      });
    } catch (err) {
      if (isTeleportError(err) && err.kind === 'limit-exceeded') {
        status = 429;
        html = messagePage('Too many requests', 'Too many requests from your address. Wait a minute and reload the page.');
      } else if (isTeleportError(err) && err.kind !== 'connection-problem') {
        status = 404;
        html = messagePage(
          kind === 'invite' ? 'Invite link expired or invalid' : 'Reset link expired or invalid',
          'This link has expired or is not valid. Ask your Teleport administrator for a new one.',
        );
      } else {
        if (!isTeleportError(err)) options.onInternalError?.(err, { method: 'GET', path: `/web/${kind}/<token>` });
        status = 502;
        html = messagePage('Cluster unavailable', 'The proxy cannot reach the auth server right now. Try again in a moment.');
      }
    }
    writeHtml(res, status, html);
  };

  return (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'https://proxy.invalid');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    if (parts[0] === 'web' && (parts[1] === 'invite' || parts[1] === 'reset') && parts.length === 3 && (method === 'GET' || method === 'HEAD')) {
      req.resume();
      void page(req, res, parts[1], decodeURIComponentSafe(parts[2]!));
      return;
    }
    if (parts[0] === 'webapi' || (parts[0] === 'v1' && parts[1] === 'webapi')) {
      void router.serve(req, res, identify);
      return;
    }
    req.resume();
    if (url.pathname === '/' || url.pathname === '/web' || url.pathname === '/web/') {
      writeHtml(res, 200, messagePage('Teleport proxy', `Log in from a terminal: tsh login --proxy=${publicAddr}`));
      return;
    }
    writeHtml(res, 404, messagePage('Not found', 'There is no page at this address.'));
  };
}

/**
 * `IP:port` of the peer (`[IPv6]:port`; an IPv4-mapped IPv6 address as plain IPv4, as Go prints it), or `''` when the
 * socket no longer knows it.
 */
export function clientAddrOf(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  if (!remoteAddress || !remotePort) return '';
  const ip = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1] ?? remoteAddress;
  return ip.includes(':') ? `[${ip}]:${remotePort}` : `${ip}:${remotePort}`;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return '';
  }
}

function writeHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': PAGE_CSP,
  });
  res.end(html);
}
