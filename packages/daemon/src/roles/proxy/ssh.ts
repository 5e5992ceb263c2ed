/**
 * SSH access on the proxy's port (ALPN `teleport-proxy-ssh`), as `tsh ssh` and `tsh proxy ssh` speak it.
 *
 * ## Wire contract
 *
 * 1. TLS to the proxy's port offering ALPN `teleport-proxy-ssh`, presenting the user's TLS certificate and key from
 *    the tsh profile (the proxy verifies it against the user CA, its cluster and the locks in force).
 * 2. The client writes ONE line of JSON (at most 4096 bytes, then `\n`):
 *    `{"host":"<target>","port":<number, 0 = any>,"cluster":"<name>"}`; the target is a node's hostname, its UUID, or
 *    an address `host:port`.
 * 3. The proxy answers ONE line: `{"ok":true,"node":{"name":"<uuid>","hostname":"<h>","addr":"<a>"}}`, or
 *    `{"ok":false,"code":"<ERR_TP_...>","error":"<one line>"}` and closes.
 * 4. After an ok line the connection carries the SSH protocol. To a Teleport node the proxy pipes it raw, through
 *    the node's reverse tunnel (or a TCP connection to `spec.addr` for a node listening directly without a tunnel
 *    here), and the node authenticates the user from the SSH certificate. An agentless OpenSSH node
 *    (`sub_kind: openssh`) is dialled at `spec.addr` and the proxy itself serves the SSH connection
 *    (`./ssh-agentless.ts`): it checks the user, records the sessions and relays them to the node's sshd.
 *
 * Every refusal is an `auth` audit event (code T3007W) with the user, the target and the reason; every connection
 * is logged with its node and byte counts.
 */

import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { AuthClient } from '@teleport-ts/core/api';
import { derToPem, type Identity } from '@teleport-ts/core/ca';
import { AccessDeniedError, BadParameterError, ConnectionProblemError, isTeleportError, NotFoundError, toWireError } from '@teleport-ts/core/errors';
import type { TunnelServer } from '@teleport-ts/core/tunnel';
import { SUBKIND_OPENSSH, type NodeServer } from '@teleport-ts/core/types';
import { DEFAULT_PRE_AUTH_DEADLINES, type PreAuthDeadlines } from '../../http/deadlines.js';
import type { ServiceAuditEmitter } from '../db/audit.js';
import type { CertAuthorityCache } from '../db/cas.js';
import type { LockWatcher } from '../lockwatcher.js';
import { SSH_STREAM_PROTOCOL, type SshStreamMeta } from '../ssh/wire.js';
import { ALPN_PROTOCOLS, peerKey, type ProtocolRegistry } from './alpn.js';
import { clientAddress } from './db-client.js';
import { newRoutedTlsServer, routeToTlsServer } from './routed-tls.js';
import type { ProxyLogger } from './service.js';
import type { AgentlessNodes } from './ssh-agentless.js';
import { newTunnelSettler } from './agents.js';
import { newNodeDirectory, type NodeDirectory } from './ssh-nodes.js';

/** The longest request line. */
const MAX_SSH_ROUTE_REQUEST_BYTES = 4096;
/** How long a node (tunnel stream or TCP dial) has to answer. */
const NODE_DIAL_TIMEOUT_MS = 10_000;

export interface SshRouteOptions {
  registry: ProtocolRegistry;
  tunnels: TunnelServer;
  auth: Pick<AuthClient, 'getNodes'>;
  cas: CertAuthorityCache;
  /** The web listener's key and certificate chain: what SSH clients see too. */
  certificate: { key: string; cert: string };
  clusterName: string;
  log: ProxyLogger;
  audit: ServiceAuditEmitter;
  locks: LockWatcher;
  deadlines?: Pick<PreAuthDeadlines, 'handshakeMs' | 'headersMs'>;
  /** Serves connections to agentless OpenSSH nodes (terminated and recorded here). */
  agentless: AgentlessNodes;
}

interface SshRouteContext {
  tunnels: TunnelServer;
  nodes: NodeDirectory;
  cas: CertAuthorityCache;
  clusterName: string;
  log: ProxyLogger;
  audit: ServiceAuditEmitter;
  locks: LockWatcher;
  deadlines: Pick<PreAuthDeadlines, 'handshakeMs' | 'headersMs'>;
  established: Map<string, () => void>;
  agentless: AgentlessNodes;
  /** Just after this proxy (re)started: waits a moment for a node's tunnel (see `newTunnelSettler`). */
  settle: (agentIds: readonly string[]) => Promise<void>;
}

/** What a client asks for. */
interface RouteRequest {
  host: string;
  port: number;
  cluster: string;
}

/** Parses the request line (without its `\n`). */
export function parseRouteRequest(line: string): RouteRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new BadParameterError('the SSH route request is not JSON', { code: 'ERR_TP_SSH_ROUTE_REQUEST' });
  }
  const r = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const port = r['port'] ?? 0;
  if (typeof r['host'] !== 'string' || r['host'] === '' || r['host'].length > 512) {
    throw new BadParameterError('the SSH route request needs a host', { code: 'ERR_TP_SSH_ROUTE_REQUEST' });
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BadParameterError('the SSH route request has an invalid port', { code: 'ERR_TP_SSH_ROUTE_REQUEST' });
  }
  if (r['cluster'] !== undefined && typeof r['cluster'] !== 'string') {
    throw new BadParameterError('the SSH route request has an invalid cluster', { code: 'ERR_TP_SSH_ROUTE_REQUEST' });
  }
  return { host: r['host'], port, cluster: (r['cluster'] as string | undefined) ?? '' };
}

/** Reads one line (bounded, with a deadline); bytes after it are put back on the socket. */
function readRequestLine(socket: TLSSocket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const finish = (err: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      if (err) reject(err);
      else resolve(line!);
    };
    const timer = setTimeout(() => finish(new BadParameterError('no SSH route request in time', { code: 'ERR_TP_SSH_ROUTE_REQUEST' })), timeoutMs);
    const onEnd = (): void => finish(new BadParameterError('the client closed before sending its SSH route request', { code: 'ERR_TP_SSH_ROUTE_REQUEST' }));
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) {
        if (buffered.length > MAX_SSH_ROUTE_REQUEST_BYTES) finish(new BadParameterError(`the SSH route request is longer than ${MAX_SSH_ROUTE_REQUEST_BYTES} bytes`, { code: 'ERR_TP_SSH_ROUTE_REQUEST' }));
        return;
      }
      if (nl > MAX_SSH_ROUTE_REQUEST_BYTES) {
        finish(new BadParameterError(`the SSH route request is longer than ${MAX_SSH_ROUTE_REQUEST_BYTES} bytes`, { code: 'ERR_TP_SSH_ROUTE_REQUEST' }));
        return;
      }
      socket.pause();
      const rest = buffered.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      finish(undefined, buffered.subarray(0, nl).toString('utf8'));
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

/** The user behind the client certificate: user CA, validity, cluster, locks. */
async function verifyUser(ctx: SshRouteContext, socket: TLSSocket): Promise<Identity> {
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) throw new AccessDeniedError('access denied: a client certificate is required', { hint: 'log in with tsh login first' });
  let identity: Identity;
  try {
    identity = (await ctx.cas.verify('user', derToPem(peer.raw, 'CERTIFICATE'), 'clientAuth')).identity;
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    throw new AccessDeniedError(`access denied: ${err.message}`, {
      code: err.kind === 'access-denied' ? err.code : 'ERR_TP_ACCESS_DENIED',
      hint: 'log in again with tsh login',
    });
  }
  if (identity.teleportCluster !== ctx.clusterName) throw new AccessDeniedError('access denied: the certificate was issued by another cluster');
  ctx.locks.assertNotLocked({ user: identity.username, roles: identity.roles, logins: identity.logins });
  return identity;
}

/** A TCP connection to `addr`, once it is connected. */
function dialTcp(addr: string): Promise<Socket> {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) return Promise.reject(new ConnectionProblemError(`invalid node address ${JSON.stringify(addr)}`, { code: 'ERR_TP_NODE_OFFLINE' }));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: m[1]!, port: Number(m[2]) });
    socket.setNoDelay(true);
    socket.setTimeout(NODE_DIAL_TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConnectionProblemError(`failed to connect to ${addr}: ${err.code ?? err.message}`, { code: 'ERR_TP_NODE_OFFLINE' })),
    );
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
  });
}

/** The byte stream to the node: its reverse tunnel, else its address (agentless, or a node listening directly). */
async function dialNode(ctx: SshRouteContext, node: NodeServer, user: Identity, clientAddr: string): Promise<Duplex> {
  const id = node.metadata.name;
  // A node reached only over its tunnel, asked of a proxy that just restarted: it is dialing this proxy again.
  if (node.sub_kind !== SUBKIND_OPENSSH && node.spec.addr === '') await ctx.settle([id]);
  if (node.sub_kind !== SUBKIND_OPENSSH && ctx.tunnels.hasAgent(id)) {
    ctx.locks.assertNotLocked({ serverId: id });
    const meta: SshStreamMeta = { service: id, protocol: SSH_STREAM_PROTOCOL, user: user.username, clientAddr };
    return ctx.tunnels.openStream(id, meta, { timeoutMs: NODE_DIAL_TIMEOUT_MS });
  }
  if (node.spec.addr !== '') return dialTcp(node.spec.addr);
  throw new ConnectionProblemError(`failed to connect to node ${JSON.stringify(node.spec.hostname)}: it has no reverse tunnel to this proxy`, {
    code: 'ERR_TP_NODE_OFFLINE',
    hint: 'check that the node (teleport-ts start --roles=node) is running and can reach the proxy',
  });
}

/** Writes the refusal line and closes; audits it. */
function refuse(ctx: SshRouteContext, socket: TLSSocket, err: unknown, who: { user?: string; target?: string; clientAddr: string }): void {
  const wire = isTeleportError(err) ? toWireError(err) : undefined;
  const message = wire?.message ?? 'internal error';
  const answer = { ok: false, code: wire?.code ?? 'ERR_TP_INTERNAL', error: message };
  socket.end(`${JSON.stringify(answer)}\n`);
  ctx.audit.emit('authAttemptFailure', {
    ...(who.user ? { user: who.user } : {}),
    ...(who.target ? { server_hostname: who.target } : {}),
    'addr.remote': who.clientAddr,
    success: false,
    error: message,
  });
  ctx.log.info('SSH connection refused', { user: who.user ?? '', target: who.target ?? '', remote_addr: who.clientAddr, error: message });
  if (!isTeleportError(err)) ctx.log.warn('SSH routing failed', { error: err instanceof Error ? err.message : String(err) });
}

/** Pipes the client and the node both ways until either side ends. */
function splice(ctx: SshRouteContext, socket: TLSSocket, upstream: Duplex, logFields: Record<string, string>): void {
  let up = 0;
  let down = 0;
  socket.on('data', (b: Buffer) => (up += b.length));
  upstream.on('data', (b: Buffer) => (down += b.length));
  upstream.on('error', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
  socket.pipe(upstream);
  upstream.pipe(socket);
  socket.resume();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    socket.destroy();
    upstream.destroy();
    ctx.log.info('SSH connection closed', { ...logFields, bytes_in: String(up), bytes_out: String(down) });
  };
  socket.once('close', close);
  upstream.once('close', close);
}

async function serveConnection(ctx: SshRouteContext, socket: TLSSocket): Promise<void> {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const clientAddr = clientAddress(socket);
  const who: { user?: string; target?: string; clientAddr: string } = { clientAddr };
  let upstream: Duplex;
  let node: NodeServer;
  try {
    const request = parseRouteRequest(await readRequestLine(socket, ctx.deadlines.headersMs));
    who.target = request.port ? `${request.host}:${request.port}` : request.host;
    const user = await verifyUser(ctx, socket);
    who.user = user.username;
    ctx.established.get(peerKey(socket))?.();
    if (request.cluster !== '' && request.cluster !== ctx.clusterName) throw new NotFoundError(`cluster ${JSON.stringify(request.cluster)} is not found`);
    node = await ctx.nodes.resolve(request.host, request.port);
    upstream = await dialNode(ctx, node, user, clientAddr);
  } catch (err) {
    refuse(ctx, socket, err, who);
    return;
  }
  const answer = { ok: true, node: { name: node.metadata.name, hostname: node.spec.hostname, addr: node.spec.addr } };
  socket.write(`${JSON.stringify(answer)}\n`);
  ctx.log.info('SSH connection routed', { user: who.user ?? '', node: node.metadata.name, hostname: node.spec.hostname, remote_addr: clientAddr });
  if (node.sub_kind === SUBKIND_OPENSSH) {
    socket.once('close', () => ctx.log.info('SSH connection closed', { user: who.user ?? '', node: node.metadata.name }));
    return ctx.agentless.serve(socket, clientAddr, node, upstream as Socket);
  }
  splice(ctx, socket, upstream, { user: who.user ?? '', node: node.metadata.name });
}

function newSshTlsServer(ctx: SshRouteContext, certificate: { key: string; cert: string }): TlsServer {
  // The user is verified after the request line against the user CA (rotation included), so the refusal reaches the client.
  return newRoutedTlsServer({ certificate, alpn: ALPN_PROTOCOLS.proxySsh, handshakeMs: ctx.deadlines.handshakeMs, what: 'SSH', log: ctx.log, serve: (socket) => serveConnection(ctx, socket) });
}

/**
 * Registers `teleport-proxy-ssh` on the proxy's listener (see the module documentation for the wire contract).
 *
 * @example
 * ```ts
 * const route = registerSshRoute({ registry, tunnels, auth, cas, certificate, clusterName, log, audit, locks, agentless });
 * ```
 */
export function registerSshRoute(options: SshRouteOptions): { close(): Promise<void> } {
  const ctx: SshRouteContext = {
    tunnels: options.tunnels,
    nodes: newNodeDirectory({ auth: options.auth, clusterName: options.clusterName }),
    cas: options.cas,
    clusterName: options.clusterName,
    log: options.log,
    audit: options.audit,
    locks: options.locks,
    deadlines: options.deadlines ?? DEFAULT_PRE_AUTH_DEADLINES,
    established: new Map(),
    agentless: options.agentless,
    settle: newTunnelSettler(options.tunnels),
  };
  return routeToTlsServer({ registry: options.registry, protocol: ALPN_PROTOCOLS.proxySsh, server: newSshTlsServer(ctx, options.certificate), established: ctx.established });
}
