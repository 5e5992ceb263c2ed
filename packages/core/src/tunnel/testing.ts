/** Test-only fixtures for the tunnel: a host CA and certificates issued at test time, a proxy TLS listener, a relay. */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createNetServer, connect as connectNet, type Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { generateKeyPair, issueHostCert, newCertAuthority, tlsSigningKeyPair } from '../ca/index.js';
import { systemClock } from '../clock/index.js';
import type { TunnelServer } from './server.js';
import { REVERSE_TUNNEL_ALPN } from './wire.js';

interface HostCredentials {
  hostId: string;
  key: string;
  cert: string;
}

export interface TunnelPki {
  clusterName: string;
  caCert: string;
  proxy: HostCredentials;
  agent: HostCredentials;
  /** Issues another host certificate (e.g. more proxies, each with its own host id). */
  issue(systemRole: string): Promise<HostCredentials>;
}

/** A host CA plus a proxy certificate (127.0.0.1, localhost) and an agent (`Db`) certificate. */
export async function makeTunnelPki(): Promise<TunnelPki> {
  const clock = systemClock;
  const clusterName = 'tunnel.test';
  const hostCa = await newCertAuthority({ clusterName, type: 'host', clock });
  const ca = tlsSigningKeyPair(hostCa);
  const expires = new Date(Date.now() + 3600_000);
  const issue = async (systemRole: string): Promise<HostCredentials> => {
    const keys = await generateKeyPair('ecdsa-p256');
    const hostId = randomUUID();
    const cert = await issueHostCert({
      ca,
      publicKey: keys.publicKeyPem,
      hostId,
      clusterName,
      systemRole,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      expires,
      clock,
    });
    return { hostId, key: keys.privateKeyPem, cert };
  };
  const [proxy, agent] = await Promise.all([issue('Proxy'), issue('Db')]);
  return { clusterName, caCert: ca.cert, proxy, agent, issue };
}

export interface ProxyListener {
  port: number;
  /** Stops listening and destroys every accepted connection (a proxy crash or restart). */
  close(): Promise<void>;
}

/**
 * What the proxy's ALPN router will do for `teleport-reversetunnel`: mTLS against the host CA, then hand the socket
 * and the identity from the certificate (CN `<uuid>.<cluster>`, O = system role) to the tunnel server.
 */
export async function startProxyListener(options: { pki: TunnelPki; tunnels: TunnelServer; port?: number; credentials?: HostCredentials }): Promise<ProxyListener> {
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    {
      key: (options.credentials ?? options.pki.proxy).key,
      cert: (options.credentials ?? options.pki.proxy).cert,
      ca: options.pki.caCert,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [REVERSE_TUNNEL_ALPN],
    },
    (socket: TLSSocket) => {
      const subject = socket.getPeerCertificate().subject;
      const [hostId = '', ...cluster] = String(subject.CN).split('.');
      options.tunnels.handleConnection(socket, { hostId, clusterName: cluster.join('.'), systemRoles: [String(subject.O)] });
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The agent's `connect`: TLS with its host certificate, verifying the proxy against the host CA. */
export function dialProxy(pki: TunnelPki, port: () => number, onSocket?: (socket: TLSSocket) => void): (signal: AbortSignal) => Promise<TLSSocket> {
  return (signal) =>
    new Promise((resolve, reject) => {
      const socket = connectTls({
        host: '127.0.0.1',
        port: port(),
        servername: 'localhost',
        key: pki.agent.key,
        cert: pki.agent.cert,
        ca: pki.caCert,
        ALPNProtocols: [REVERSE_TUNNEL_ALPN],
      });
      const fail = (err: unknown) => {
        socket.destroy();
        reject(err);
      };
      signal.addEventListener('abort', () => fail(signal.reason), { once: true });
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        socket.removeListener('error', fail);
        socket.on('error', () => undefined);
        onSocket?.(socket);
        resolve(socket);
      });
    });
}

export interface Relay {
  port: number;
  /** Stops forwarding on every current connection without closing it: the peers see silence, not a FIN. */
  freeze(): void;
  close(): Promise<void>;
}

/** A TCP relay to `127.0.0.1:targetPort` that can go silent, to simulate a dead network path. */
export async function startRelay(targetPort: number): Promise<Relay> {
  const connections = new Set<{ sockets: [Socket, Socket]; freeze: () => void }>();
  const server = createNetServer((inbound) => {
    const outbound = connectNet({ host: '127.0.0.1', port: targetPort });
    let frozen = false;
    const connection = { sockets: [inbound, outbound] as [Socket, Socket], freeze: () => (frozen = true) };
    connections.add(connection);
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      from.on('data', (d: Buffer) => {
        if (!frozen) to.write(d);
      });
      from.on('error', () => undefined);
      from.once('close', () => {
        if (!frozen) to.destroy();
        connections.delete(connection);
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => {
      for (const connection of connections) connection.freeze();
    },
    close: async () => {
      for (const { sockets } of connections) for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface RoundRobin {
  port: number;
  close(): Promise<void>;
}

/** A TCP load balancer: each connection goes to the next of `ports()` (a refused one is dropped, as a dead backend). */
export async function startRoundRobin(ports: () => readonly number[]): Promise<RoundRobin> {
  const sockets = new Set<Socket>();
  let next = 0;
  const server = createNetServer((inbound) => {
    const targets = ports();
    const target = targets[next++ % Math.max(1, targets.length)];
    if (target === undefined) {
      inbound.destroy();
      return;
    }
    const outbound = connectNet({ host: '127.0.0.1', port: target });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
