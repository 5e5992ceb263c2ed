/**
 * An agent's outbound reverse tunnel connection (db agents; SSH nodes the same way): TLS to the proxy with the
 * agent's host certificate, offering ALPN `teleport-reversetunnel`, and accepting the proxy only when it presents a host certificate of this cluster
 * with the Proxy system role (verified against the host CA, rotation included). The proxy's address is the
 * `--auth-server` address when that is a proxy, else the proxy the auth server names (`ping().proxyPublicAddr`).
 */

import { connect as connectTls, type TLSSocket } from 'node:tls';
import type { Identity } from '@teleport-ts/core/api';
import { derToPem } from '@teleport-ts/core/ca';
import { DEFAULT_PROXY_WEB_PORT, parseHostPort } from '@teleport-ts/core/config';
import { AccessDeniedError, ConnectionProblemError } from '@teleport-ts/core/errors';
import { REVERSE_TUNNEL_ALPN } from '@teleport-ts/core/tunnel';
import type { CertAuthorityCache } from './db/cas.js';
import { isIpAddress } from './db/config.js';

/**
 * One TLS connection to `addr` offering the reverse tunnel ALPN protocol. Resolves once the peer proved it holds a
 * Proxy host certificate of `clusterName`; rejects (destroying the socket) otherwise.
 */
async function dialReverseTunnel(options: {
  addr: string;
  identity: Pick<Identity, 'key' | 'cert'>;
  cas: CertAuthorityCache;
  clusterName: string;
  signal: AbortSignal;
  localAddress?: string;
}): Promise<{ socket: TLSSocket; proxyId: string }> {
  const { host, port } = parseHostPort(options.addr, DEFAULT_PROXY_WEB_PORT);
  const socket = connectTls({
    host,
    port,
    key: options.identity.key,
    cert: options.identity.cert,
    // The proxy's host certificate names its host UUID, not the address we dial: it is checked below instead.
    rejectUnauthorized: false,
    ...(isIpAddress(host) ? {} : { servername: host }),
    ALPNProtocols: [REVERSE_TUNNEL_ALPN],
    ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(options.signal.reason);
      options.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        options.signal.removeEventListener('abort', onAbort);
        // A reset while the proxy's certificate is checked below must not crash the agent: the check fails instead.
        socket.on('error', () => undefined);
        socket.removeListener('error', reject);
        resolve();
      });
    });
    const peer = socket.getPeerCertificate();
    if (!peer?.raw) throw new AccessDeniedError(`the server at ${options.addr} presented no certificate`);
    const { identity } = await options.cas.verify('host', derToPem(peer.raw, 'CERTIFICATE'), 'serverAuth');
    const suffix = `.${options.clusterName}`;
    if (identity.roles.length !== 1 || identity.roles[0] !== 'Proxy' || identity.teleportCluster !== options.clusterName || !identity.username.endsWith(suffix)) {
      throw new AccessDeniedError(`the server at ${options.addr} is not a proxy of cluster ${JSON.stringify(options.clusterName)}`);
    }
    if (socket.alpnProtocol !== REVERSE_TUNNEL_ALPN) {
      throw new ConnectionProblemError(`${options.addr} does not accept reverse tunnels`);
    }
    // Which proxy answered (behind a load balancer, any of them): its host id.
    return { socket, proxyId: identity.username.slice(0, -suffix.length) };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * The tunnel pool's `connect`: dials the proxy, trying the candidate addresses in order and sticking to the first
 * that works, so a restarted proxy is dialled at the same address without probing again. Says which proxy answered
 * (behind a load balancer, each dial may reach another one).
 */
export function reverseTunnelDialer(options: {
  candidates: () => Promise<readonly string[]>;
  identity: Pick<Identity, 'key' | 'cert'>;
  cas: CertAuthorityCache;
  clusterName: string;
  onConnected?: (addr: string, proxyId: string) => void;
  /** Local address to dial from (`pnpm bench scale`). */
  localAddress?: string;
}): (signal: AbortSignal) => Promise<{ socket: TLSSocket; proxyId: string }> {
  let preferred: string | undefined;
  return async (signal) => {
    const candidates = [...new Set([...(preferred !== undefined ? [preferred] : []), ...(await options.candidates())])];
    if (candidates.length === 0) throw new ConnectionProblemError('no proxy address is known to open the reverse tunnel to', { hint: 'pass the proxy address as --auth-server' });
    let last: unknown;
    for (const addr of candidates) {
      try {
        const dialed = await dialReverseTunnel({
          addr,
          identity: options.identity,
          cas: options.cas,
          clusterName: options.clusterName,
          signal,
          ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
        });
        preferred = addr;
        options.onConnected?.(addr, dialed.proxyId);
        return dialed;
      } catch (err) {
        last = err;
        if (signal.aborted) break;
      }
    }
    throw last;
  };
}
