/**
 * The proxy's web server: the JSON API (`/webapi/...` and `/v1/webapi/...`, Teleport's paths, see `endpoints.ts`) and
 * the pages (`/web/invite/<token>`, `/web/reset/<token>`). Every endpoint here is unauthenticated, so every request
 * first takes a token from the caller's address bucket. Credentials are checked by the auth server (lockout and
 * attempt accounting stay there); the proxy only shapes requests and answers.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { MIN_PASSWORD_LENGTH } from '@teleport-ts/core/authn';
import type { Clock } from '@teleport-ts/core/clock';
import { BadParameterError, isTeleportError } from '@teleport-ts/core/errors';
import { newRouter, type InternalErrorSink } from '../../../http/router.js';
import type { RateLimiter } from '../ratelimit.js';
import { MAX_FIELD, newCachedAuthPing, registerWebApiRoutes, type ProxyAuthApi, type ProxyCaReads, type WebApiContext } from './endpoints.js';
import { PAGE_CSP, SECURITY_HEADERS, messagePage, tshLoginCommand, userTokenPage } from './page.js';
import { peerOf } from '../peer.js';

export {
  
  
  
  
  
  type ProxyAuthApi,
} from './endpoints.js';

export interface WebApiOptions {
  auth: ProxyAuthApi;
  /** Where `/webapi/auth/export` reads the CAs; default `auth`. */
  caReads?: ProxyCaReads;
  clock: Clock;
  limiter: RateLimiter;
  /** The CA export's own per-address limit; default `limiter`. */
  exportLimiter?: RateLimiter;
  /** `host:port` users reach the proxy at (public address, else the listen address). */
  publicAddr: string;
  /** The web certificate is self-signed: the suggested `tsh login` carries `--insecure`, or it would fail as copied. */
  selfSigned?: boolean;
  onInternalError?: InternalErrorSink;
}

export interface WebHandler {
  (req: IncomingMessage, res: ServerResponse): void;
}

type TokenPageKind = 'invite' | 'reset';

/** What a request is for, from its method and path alone. */
type WebTarget = { kind: 'page'; page: TokenPageKind; token: string } | { kind: 'api' } | { kind: 'home' } | { kind: 'favicon' } | { kind: 'not-found' };

/**
 * Builds the request listener of the proxy's web server: the API router, the token pages, a home page, an empty
 * `/favicon.ico` (204), and 404.
 *
 * @example
 * ```ts
 * const httpServer = http.createServer(newWebHandler({ auth, clock, limiter, publicAddr: 'proxy.example.com:3080' }));
 * ```
 */
export function newWebHandler(options: WebApiOptions): WebHandler {
  const { auth, clock, limiter, publicAddr } = options;
  const insecure = options.selfSigned === true;
  const ctx: WebApiContext = { auth, cas: options.caReads ?? auth, authPing: newCachedAuthPing(auth, clock), publicAddr, limiter, exportLimiter: options.exportLimiter ?? limiter };
  // The identity of an (unauthenticated) web caller is its address, which the auth server audits logins at.
  const router = newRouter<string>(options.onInternalError);
  registerWebApiRoutes(router, ctx);
  // The API routes that check a secret take from the limiter themselves (registerWebApiRoutes); a token page does here.
  const identifyLimited = (req: IncomingMessage): string => {
    limiter.take(req.socket.remoteAddress ?? '');
    return clientAddrOf(req);
  };

  return (req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const target = webTarget(req.method ?? 'GET', req.url ?? '/');
    if (target.kind === 'api') {
      void router.serve(req, res, clientAddrOf);
      return;
    }
    req.resume();
    if (target.kind === 'page') {
      void serveTokenPage({ ctx, identify: identifyLimited, req, res, insecure, ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}) }, target.page, target.token);
    } else if (target.kind === 'favicon') {
      // Browsers ask for it on every page; no icon, and no 404 in their console or in scanners' reports.
      res.writeHead(204, { 'cache-control': 'public, max-age=86400' });
      res.end();
    } else if (target.kind === 'home') {
      writeHtml(res, 200, messagePage('Teleport proxy', `Log in from a terminal: ${tshLoginCommand(publicAddr, insecure)}`));
    } else {
      writeHtml(res, 404, messagePage('Not found', 'There is no page at this address.'));
    }
  };
}

/** Routes by path; a path that does not parse is the API's to refuse (with a JSON 400) or a plain 404. */
function webTarget(method: string, rawUrl: string): WebTarget {
  let pathname: string;
  try {
    pathname = new URL(rawUrl, 'https://proxy.invalid').pathname;
  } catch {
    return rawUrl.startsWith('/webapi/') || rawUrl.startsWith('/v1/webapi/') ? { kind: 'api' } : { kind: 'not-found' };
  }
  const parts = pathname.split('/').filter(Boolean);
  if (parts[0] === 'web' && (parts[1] === 'invite' || parts[1] === 'reset') && parts.length === 3 && (method === 'GET' || method === 'HEAD')) {
    return { kind: 'page', page: parts[1], token: decodeURIComponentSafe(parts[2]!) };
  }
  if (parts[0] === 'webapi' || (parts[0] === 'v1' && parts[1] === 'webapi')) return { kind: 'api' };
  if (pathname === '/' || pathname === '/web' || pathname === '/web/') return { kind: 'home' };
  if (pathname === '/favicon.ico' && (method === 'GET' || method === 'HEAD')) return { kind: 'favicon' };
  return { kind: 'not-found' };
}

interface PageRequest {
  ctx: WebApiContext;
  identify: (req: IncomingMessage) => string;
  req: IncomingMessage;
  res: ServerResponse;
  /** Suggest `tsh login --insecure` (self-signed web certificate). */
  insecure: boolean;
  onInternalError?: InternalErrorSink;
}

/** `/web/invite/<token>` and `/web/reset/<token>`: the form, or a page that says why there is none. */
async function serveTokenPage(p: PageRequest, kind: TokenPageKind, token: string): Promise<void> {
  try {
    p.identify(p.req);
    if (token === '' || token.length > MAX_FIELD.token) throw new BadParameterError('bad token');
    const [details, ping] = await Promise.all([p.ctx.auth.getUserToken(token), p.ctx.authPing()]);
    const html = userTokenPage({
      kind: details.kind,
      token,
      user: details.user,
      clusterName: ping.clusterName,
      proxyAddr: p.ctx.publicAddr,
      insecure: p.insecure,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      ...(details.totp ? { totp: details.totp } : {}),
    });
    writeHtml(p.res, 200, html);
  } catch (err) {
    if (!isTeleportError(err)) p.onInternalError?.(err, { method: 'GET', path: `/web/${kind}/<token>` });
    const failure = tokenPageFailure(err, kind);
    writeHtml(p.res, failure.status, failure.html);
  }
}

/** The status and page for a failed token page: rate limited (429), bad or spent link (404), auth unreachable (502). */
function tokenPageFailure(err: unknown, kind: TokenPageKind): { status: number; html: string } {
  if (isTeleportError(err) && err.kind === 'limit-exceeded') {
    return { status: 429, html: messagePage('Too many requests', 'Too many requests from your address. Wait a minute and reload the page.') };
  }
  if (isTeleportError(err) && err.kind !== 'connection-problem') {
    return {
      status: 404,
      html: messagePage(
        kind === 'invite' ? 'Invite link expired or invalid' : 'Reset link expired or invalid',
        'This link has expired or is not valid. Ask your Teleport administrator for a new one.',
      ),
    };
  }
  return { status: 502, html: messagePage('Cluster unavailable', 'The proxy cannot reach the auth server right now. Try again in a moment.') };
}

/** `IP:port` of the peer (`[IPv6]:port`, an IPv4-mapped address as plain IPv4), as the auth server audits it. */
function clientAddrOf(req: IncomingMessage): string {
  const addr = peerOf(req.socket);
  // Without its port (the socket already gone) it is not an address the auth server accepts.
  return /\]:\d+$|^[^:]+:\d+$/.test(addr) ? addr : '';
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
