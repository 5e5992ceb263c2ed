/**
 * Agentless OpenSSH nodes (`sub_kind: openssh`) at the proxy, as Teleport serves them: the proxy terminates the
 * user's SSH connection with the node server's own code in relay mode (`../ssh/server/`: the user certificate, RBAC
 * over the node's labels, locks, audit, and the recording, kept here because a stock sshd records nothing), and
 * presents a host certificate from the host CA naming the node, which it asks the auth server for (cached per node).
 * It then logs in to the node's sshd with a short-lived user certificate from the `openssh` CA (what
 * `tctl auth export --type=openssh` prints for `TrustedUserCAKeys`) for the same login, checking the sshd's host
 * certificate against the host CA and the node's names.
 */

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuthClient, OpenSshHostCert, RecordingsApi } from '@teleport-ts/core/api';
import { formatSshCertificate } from '@teleport-ts/core/ca';
import { generateKeyPair, type KeyPairPem } from '@teleport-ts/core/ca/keygen';
import type { Clock } from '@teleport-ts/core/clock';
import { AccessDeniedError, redact } from '@teleport-ts/core/errors';
import { connectSsh } from '@teleport-ts/core/protocol/ssh';
import type { NodeServer } from '@teleport-ts/core/types';
import type { Client } from 'ssh2';
import type { Logger } from '../../logger.js';
import type { ServiceAuditEmitter } from '../db/audit.js';
import type { LockWatcher } from '../lockwatcher.js';
import { auditOf, lazyRecording, userCaKeys } from '../ssh/node-server.js';
import { newNodeSshServer, newRoleAccess, type NodeSshServer, type SshRelay } from '../ssh/server/index.js';

/** The host certificates the proxy presents live this long; a new one is asked for an hour before. */
const HOST_CERT_TTL_MS = 12 * 3_600_000;
const HOST_CERT_RENEW_MS = 3_600_000;

type AgentlessAuth = Pick<AuthClient, 'generateHostCert' | 'generateOpenSshCert' | 'getRole' | 'getCertAuthorities'> &
  Pick<RecordingsApi, 'getSessionRecordingConfig' | 'uploadRecordingPart' | 'completeRecording'>;

export interface AgentlessOptions {
  auth: AgentlessAuth;
  clusterName: string;
  /** The proxy's data dir: recordings are spooled under it. */
  dataDir: string;
  locks: LockWatcher;
  audit: ServiceAuditEmitter;
  clock: Clock;
  logger: Logger;
}

/** What the SSH route holds. */
export interface AgentlessNodes {
  /** Serves the user's SSH connection (`client`) for `node`, whose sshd is already connected (`nodeSocket`). */
  serve(client: Duplex, remoteAddr: string, node: NodeServer, nodeSocket: Socket): Promise<void>;
  /** A CA rotation moved: read the user CA keys again and ask for new host certificates for the next sessions. */
  casChanged(): void;
  close(): Promise<void>;
}

interface AgentlessState {
  o: AgentlessOptions;
  key: Promise<KeyPairPem> | undefined;
  hostCerts: Map<string, { at: number; cert: Promise<OpenSshHostCert> }>;
  live: Set<NodeSshServer>;
}

/** The names a node goes by: its UUID, hostname and address host, each also as `<name>.<cluster>`. */
function agentlessNodeNames(node: NodeServer, clusterName: string): string[] {
  const host = /^\[?([^\]]*?)\]?:\d+$/.exec(node.spec.addr)?.[1] ?? '';
  const names = [node.metadata.name, node.spec.hostname].filter((n) => n !== '');
  return [...new Set([...names, ...names.map((n) => `${n}.${clusterName}`), ...(host === '' ? [] : [host])])];
}

function proxyKey(state: AgentlessState): Promise<KeyPairPem> {
  state.key ??= generateKeyPair('ed25519', { comment: 'teleport-proxy-agentless' });
  return state.key;
}

/** The host certificate the proxy presents for `node`, cached until an hour before it expires. */
function hostCertFor(state: AgentlessState, node: NodeServer): Promise<OpenSshHostCert> {
  const principals = agentlessNodeNames(node, state.o.clusterName);
  const cacheKey = principals.join(',');
  const now = state.o.clock.now().getTime();
  const hit = state.hostCerts.get(cacheKey);
  if (hit !== undefined && now - hit.at < HOST_CERT_TTL_MS - HOST_CERT_RENEW_MS) return hit.cert;
  const cert = proxyKey(state).then((key) => state.o.auth.generateHostCert({ sshPublicKey: key.sshPublicKey, principals, ttl: HOST_CERT_TTL_MS }));
  state.hostCerts.set(cacheKey, { at: now, cert });
  cert.catch(() => state.hostCerts.delete(cacheKey));
  return cert;
}

/** Logs in to the node's sshd as the user's login, with a certificate from the `openssh` CA. */
function relayTo(state: AgentlessState, node: NodeServer, nodeSocket: Socket, hostCaKeys: readonly string[]): SshRelay {
  const names = agentlessNodeNames(node, state.o.clusterName);
  return {
    async login({ certificate, login }): Promise<Client> {
      const key = await proxyKey(state);
      const { sshCert } = await state.o.auth.generateOpenSshCert({ userCert: formatSshCertificate(certificate), login, sshPublicKey: key.sshPublicKey });
      let connected;
      try {
        connected = await connectSsh({ sock: nodeSocket, login, privateKey: key.privateKeyPem, certificate: sshCert, hostCaKeys, hostPrincipal: null, clock: state.o.clock });
      } catch (err) {
        throw new AccessDeniedError(`failed to log in to ${node.spec.hostname} as ${login}: ${(err as Error).message}`, { code: 'ERR_TP_SSH_DENIED' });
      }
      if (!connected.hostCertificate.validPrincipals.some((p) => names.includes(p))) {
        connected.client.end();
        throw new AccessDeniedError(`the host certificate of ${node.spec.hostname} does not name it`, { code: 'ERR_TP_SSH_PRINCIPAL' });
      }
      return connected.client;
    },
  };
}

/**
 * @example
 * ```ts
 * const agentless = newAgentlessNodes({ auth, clusterName, dataDir, locks, audit, clock, logger });
 * await agentless.serve(tlsSocket, clientAddr, node, await dialTcp(node.spec.addr));
 * ```
 */
export function newAgentlessNodes(options: AgentlessOptions): AgentlessNodes {
  const state: AgentlessState = { o: options, key: undefined, hostCerts: new Map(), live: new Set() };
  const { auth, clusterName, logger, clock } = options;
  const cas = userCaKeys(auth, clusterName, logger);
  const recording = lazyRecording({ dataDir: options.dataDir, client: auth, at: 'proxy' }, { clock, logger });
  const audit = auditOf(options.audit, logger);
  return {
    async serve(client, remoteAddr, node, nodeSocket) {
      let hostCert: OpenSshHostCert;
      let key: KeyPairPem;
      try {
        [hostCert, key] = await Promise.all([hostCertFor(state, node), proxyKey(state), cas.ready]);
      } catch (err) {
        logger.warn('no host certificate for an agentless node', { node: node.metadata.name, error: redact((err as Error).message) });
        client.destroy();
        nodeSocket.destroy();
        return;
      }
      const server = newNodeSshServer({
        hostKey: key.privateKeyPem,
        hostCert: hostCert.sshCert,
        clusterName,
        nodeName: node.spec.hostname,
        hostUUID: node.metadata.name,
        userCAs: cas.current,
        access: newRoleAccess({ getRole: (name) => auth.getRole(name), labels: () => node.metadata.labels ?? {}, nodeName: node.spec.hostname, roleCacheTtlMs: 0 }),
        locks: options.locks,
        audit,
        recorder: async (start) => (await recording.get()).agentlessRecorder(start),
        relay: relayTo(state, node, nodeSocket, hostCert.sshCaKeys),
        clock,
      });
      state.live.add(server);
      client.once('close', () => {
        state.live.delete(server);
        nodeSocket.destroy();
      });
      server.handle(client, remoteAddr);
      // The route paused the stream after its request line.
      client.resume();
    },
    casChanged() {
      cas.refresh();
      state.hostCerts.clear();
    },
    async close() {
      cas.close();
      await Promise.all([...state.live].map((server) => server.close()));
      await recording.close();
    },
  };
}
