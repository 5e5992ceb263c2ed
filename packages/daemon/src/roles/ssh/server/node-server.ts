/**
 * The node's SSH server: the node service hands it every raw SSH byte stream (from its reverse tunnel or a direct
 * listener) and it serves the connection end to end: user certificate, RBAC, locks, sessions, port and agent
 * forwarding, audit.
 */

import type { Duplex } from 'node:stream';
import { systemClock } from '@teleport-ts/core/clock';
import { newSshServer } from '@teleport-ts/core/protocol/ssh';
import type { Connection, TcpipBindInfo, TcpipRequestInfo } from 'ssh2';
import { authenticate } from './auth.js';
import { dialTcp, forwardOut, listenForward, loopbackBindAddress, splice } from './forward.js';
import { serveSession } from './session.js';
import { auditBase, endConnection, lockSubject, splitAddress, type ConnectionState } from './state.js';
import type { NodeSshServerOptions } from './types.js';

/** What the node service holds. */
export interface NodeSshServer {
  /** Serves one SSH connection on `stream`; `remoteAddr` is the client's address (`host:port` or a host). */
  handle(stream: Duplex, remoteAddr: string): void;
  /** Ends every connection. */
  close(): Promise<void>;
}

/** Timers past this are not set (setTimeout's limit); such sessions end with their connection. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * @example
 * ```ts
 * const ssh = newNodeSshServer({ hostKey, hostCert, clusterName, nodeName, hostUUID,
 *   userCAs: () => userCaLines, access: newRoleAccess({ getRole, labels: () => labels, nodeName }),
 *   locks, audit: { emit: (name, fields) => emitter.emit(name, fields) } });
 * tunnel.onStream((stream, meta) => ssh.handle(stream, meta.clientAddr));
 * ```
 */
export function newNodeSshServer(options: NodeSshServerOptions): NodeSshServer {
  const live = new Set<ConnectionState>();
  const server = newSshServer({
    hostKey: options.hostKey,
    hostCert: options.hostCert,
    ...(options.loginGraceMs === undefined ? {} : { loginGraceMs: options.loginGraceMs }),
    onConnection(connection, { remoteAddr }) {
      const { host, port } = splitAddress(remoteAddr);
      const state: ConnectionState = {
        options, clock: options.clock ?? systemClock, connection, remoteAddr, remoteHost: host, remotePort: port,
        user: undefined, channels: new Set(), forwards: new Map(), cleanups: [], closed: false,
      };
      live.add(state);
      serveConnection(state, () => live.delete(state));
    },
  });
  return {
    handle: (stream, remoteAddr) => server.handle(stream, remoteAddr),
    async close() {
      await Promise.all([...live].map((state) => new Promise<void>((resolve) => {
        state.connection.once('close', () => resolve());
        state.connection.end();
        setTimeout(resolve, 1_000).unref();
      })));
    },
  };
}

function serveConnection(state: ConnectionState, forget: () => void): void {
  const { connection } = state;
  connection.on('error', () => undefined);
  connection.on('authentication', (ctx) => void authenticate(state, ctx));
  connection.on('ready', () => watchSession(state));
  connection.on('session', (accept) => serveSession(state, accept));
  connection.on('tcpip', (accept, reject, info) => void directTcpip(state, accept, reject, info));
  connection.on('request', (accept, reject, name, info) => void globalRequest(state, { accept, reject }, name, info as TcpipBindInfo));
  connection.on('close', () => {
    state.closed = true;
    state.upstream?.end();
    for (const cleanup of state.cleanups.splice(0)) cleanup();
    for (const server of state.forwards.values()) server.close();
    forget();
  });
}

/** After login: locks that come into force and the end of `max_session_ttl` or of the certificate end the connection. */
function watchSession(state: ConnectionState): void {
  const user = state.user!;
  const { locks } = state.options;
  if (locks !== undefined) {
    const subject = lockSubject(state, user);
    const stop = locks.watch(subject, (message) => {
      let text = `session ended: a lock is in force${message ? `: ${message}` : ''}`;
      try {
        locks.assertNotLocked(subject);
      } catch (err) {
        text = `session ended: ${(err as Error).message}`;
      }
      state.options.audit.emit('sessionRejected', { ...auditBase(state), reason: text });
      endConnection(state, text);
    });
    state.cleanups.push(stop);
  }
  const now = state.clock.now().getTime();
  const certEnd = Number(user.certificate.validBefore) * 1000;
  const ttlEnd = now + user.decision.maxSessionTtlMs;
  const end = Math.min(Number.isFinite(certEnd) ? certEnd : Infinity, ttlEnd);
  const delay = end - now;
  if (delay < MAX_TIMER_MS) {
    const why = end === ttlEnd ? 'max_session_ttl of the roles reached' : 'the certificate expired';
    const timer = setTimeout(() => endConnection(state, `session ended: ${why}`), Math.max(0, delay));
    timer.unref();
    state.cleanups.push(() => clearTimeout(timer));
  }
}

function forwardingRefusal(state: ConnectionState): string | undefined {
  const { decision, identity } = state.user!;
  if (!decision.portForwarding) return 'port forwarding is not permitted by the roles (options.port_forwarding)';
  if (!identity.permitPortForwarding) return 'port forwarding is not permitted by the certificate';
  return undefined;
}

type ChannelAccept = () => Duplex;

async function directTcpip(state: ConnectionState, accept: ChannelAccept, reject: () => void, info: TcpipRequestInfo): Promise<void> {
  const addr = `${info.destIP}:${info.destPort}`;
  const refusal = forwardingRefusal(state);
  if (refusal !== undefined) {
    state.options.audit.emit('sessionRejected', { ...auditBase(state), reason: refusal, addr });
    // The patched ssh2 sends the text as the open failure's description, which OpenSSH prints.
    return (reject as (message?: string) => void)(refusal);
  }
  try {
    // Relayed, the node's sshd dials (it decides with its AllowTcpForwarding).
    const socket = state.upstream ? await forwardOut(state.upstream, info) : await dialTcp(info.destIP, info.destPort);
    state.options.audit.emit('portForward', { ...auditBase(state), addr, success: true });
    splice(socket, accept());
  } catch (err) {
    state.options.audit.emit('portForward', { ...auditBase(state), addr, success: false, error: (err as Error).message });
    reject();
  }
}

async function globalRequest(state: ConnectionState, reply: { accept?: (port?: number) => void; reject?: () => void }, name: string, info: TcpipBindInfo): Promise<void> {
  const key = `${loopbackBindAddress(info.bindAddr)}:${info.bindPort}`;
  if (name === 'cancel-tcpip-forward') {
    const server = state.forwards.get(key);
    state.forwards.delete(key);
    server?.close();
    return server ? reply.accept?.() : reply.reject?.();
  }
  // Remote forwarding through a relay is not supported.
  if (name !== 'tcpip-forward' || state.upstream !== undefined) return reply.reject?.();
  const refusal = forwardingRefusal(state);
  const addr = `${info.bindAddr}:${info.bindPort}`;
  if (refusal !== undefined) {
    state.options.audit.emit('sessionRejected', { ...auditBase(state), reason: refusal, addr });
    return reply.reject?.();
  }
  try {
    const server = await listenForward(state.connection as Connection, info.bindAddr, info.bindPort);
    const port = (server.address() as { port: number }).port;
    if (state.closed) return void server.close();
    state.forwards.set(`${loopbackBindAddress(info.bindAddr)}:${info.bindPort === 0 ? port : info.bindPort}`, server);
    state.options.audit.emit('portForward', { ...auditBase(state), addr: `${info.bindAddr}:${port}`, success: true, remote: true });
    reply.accept?.(port);
  } catch (err) {
    state.options.audit.emit('portForward', { ...auditBase(state), addr, success: false, error: (err as Error).message });
    reply.reject?.();
  }
}
