/**
 * The proxy's end of reverse tunnels on its one port: connections offering ALPN `teleport-reversetunnel` are taken
 * before the web TLS (a passthrough route) and terminated here with the proxy's HOST certificate, requiring the
 * agent's host certificate. An agent is accepted only with a host certificate of this cluster (host CA, rotation
 * included, valid now) carrying an agent system role (`Db`, `Node`); then its connection feeds the tunnel server, keyed by
 * the agent's host UUID.
 */

import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Identity } from '@teleport-ts/core/api';
import { derToPem } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import { newTunnelServer, REVERSE_TUNNEL_ALPN, type TunnelServer, type TunnelServerOptions } from '@teleport-ts/core/tunnel';
import type { CertAuthorityCache } from '../db/cas.js';
import { ALPN_PROTOCOLS, peerKey, type ProtocolRegistry } from './alpn.js';
import { peerOf, rememberPeers } from './peer.js';
import type { ProxyLogger } from './service.js';

/** System roles of agents that may open a reverse tunnel. */
const TUNNEL_AGENT_ROLES: readonly string[] = ['Db', 'Node'];

export interface ReverseTunnelRouteOptions {
  registry: ProtocolRegistry;
  /** The proxy's host identity: its certificate is what agents verify. */
  identity: Pick<Identity, 'key' | 'cert'>;
  cas: CertAuthorityCache;
  clusterName: string;
  clock: Clock;
  log: ProxyLogger;
  /** Handshake deadline, ms; default 10 s. */
  handshakeTimeoutMs?: number;
  /** Keepalive and timeouts of the tunnel server. */
  tunnel?: Omit<TunnelServerOptions, 'clock' | 'onAgent' | 'onAgentGone'>;
}

export interface ReverseTunnelRoute {
  /** The registry of connected agents: `openStream(hostId, meta)`. */
  tunnels: TunnelServer;
  /** The proxy's identity was renewed (in place): agents dialing from now on see the new certificate. */
  renewIdentity(): void;
  /** Unregisters the route and drops every tunnel. */
  close(): Promise<void>;
}

/**
 * Registers `teleport-reversetunnel` on the proxy's listener.
 *
 * @example
 * ```ts
 * const { tunnels } = registerReverseTunnelRoute({ registry: proxy.registry, identity, cas, clusterName, clock, log });
 * const stream = await tunnels.openStream(agentHostId, meta);
 * ```
 */
export function registerReverseTunnelRoute(options: ReverseTunnelRouteOptions): ReverseTunnelRoute {
  const { log } = options;
  const tunnels = newTunnelServer({
    ...options.tunnel,
    clock: options.clock,
    onAgent: (agent) => log.info('agent connected through a reverse tunnel', { host_id: agent.id, roles: (agent.identity.systemRoles ?? []).join(',') }),
    onAgentGone: (agent) => log.info('agent reverse tunnel closed', { host_id: agent.id }),
  });
  const sockets = new Set<Socket>();
  /** Frees a connection's slot among its address's unidentified ones, by {@link peerKey}. */
  const established = new Map<string, () => void>();
  const server = createTlsServer(
    {
      key: options.identity.key,
      cert: options.identity.cert,
      requestCert: true,
      // Verified below against the host CA as it is now (rotations included), with the clock we were given.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [REVERSE_TUNNEL_ALPN],
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    },
    (socket: TLSSocket) => {
      established.get(peerKey(socket))?.();
      void accept(socket);
    },
  );
  rememberPeers(server);
  server.on('tlsClientError', (err, socket) => {
    log.info('reverse tunnel handshake failed', { remote_addr: peerOf(socket), error: err.message });
    socket.destroy();
  });

  const accept = async (socket: TLSSocket): Promise<void> => {
    socket.on('error', () => undefined);
    const remote = socket.remoteAddress ?? '';
    try {
      const peer = socket.getPeerCertificate();
      if (!peer?.raw) throw new AccessDeniedError('the agent presented no certificate');
      const { identity } = await options.cas.verify('host', derToPem(peer.raw, 'CERTIFICATE'), 'clientAuth');
      const role = identity.roles[0];
      if (identity.roles.length !== 1 || role === undefined || !TUNNEL_AGENT_ROLES.includes(role)) {
        throw new AccessDeniedError(`system role ${JSON.stringify(identity.roles.join(','))} may not open a reverse tunnel`);
      }
      if (identity.teleportCluster !== options.clusterName) throw new AccessDeniedError('the host certificate was issued by another cluster');
      const suffix = `.${options.clusterName}`;
      if (!identity.username.endsWith(suffix)) throw new AccessDeniedError('the host certificate does not name a host of this cluster');
      const hostId = identity.username.slice(0, -suffix.length);
      if (socket.destroyed) return;
      tunnels.handleConnection(socket, { hostId, clusterName: options.clusterName, systemRoles: identity.roles });
    } catch (err) {
      log.warn('refused a reverse tunnel', { remote_addr: remote, error: isTeleportError(err) || err instanceof Error ? err.message : String(err) });
      socket.destroy();
    }
  };

  const unregister = options.registry.register({
    protocol: ALPN_PROTOCOLS.reverseTunnel,
    tls: 'passthrough',
    handle: (socket, info) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // The handshake is bounded by its deadline, and the agent is identified (or refused) right after it.
      const key = peerKey(socket);
      established.set(key, info.established);
      socket.once('close', () => established.delete(key));
      server.emit('connection', socket);
    },
  });

  return {
    tunnels,
    renewIdentity: () => server.setSecureContext({ key: options.identity.key, cert: options.identity.cert }),
    async close() {
      unregister();
      await tunnels.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
