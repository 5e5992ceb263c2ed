/**
 * An SSH connection to a node through the proxy: the routing of `route.ts`, then core's SSH client with the
 * profile's key and certificate. The node must present a host certificate from the cluster's host CA (from
 * `known_hosts`) naming it: tsh never trusts a node on first use. A certificate from a host CA `known_hosts` does not
 * hold yet (after a rotation) makes tsh refresh the host CAs from the proxy and retry once (`host-ca-refresh.ts`).
 */

import { readFile } from 'node:fs/promises';
import type { Client } from '@teleport-ts/core/protocol/ssh';
import { connectSsh } from '@teleport-ts/core/protocol/ssh';
import { AccessDeniedError } from '@teleport-ts/core/errors';
import { refreshHostCaKeys, withHostCaRefresh } from './host-ca-refresh.js';
import { dialNode, type RoutedNode } from './route.js';
import { cleanTargetHost, readHostCaKeys, type SshProfile } from './profile.js';

export interface NodeConnectOptions {
  host: string;
  /** 0: any. */
  port: number;
  cluster: string;
  login: string;
  /** An agent socket to forward (`-A`). */
  forwardAgent?: string;
}

export interface NodeConnection {
  client: Client;
  node: RoutedNode;
  /** Ends the SSH connection (and the stream under it). */
  close(): void;
}

/** The names a node's host certificate may list for tsh to accept it as the node the proxy routed to. */
function acceptedPrincipals(node: RoutedNode, cluster: string, asked: string): string[] {
  const names = [node.name, node.hostname, asked].filter((n) => n !== '');
  return [...names, ...names.map((n) => `${n}.${cluster}`)];
}

/** One refresh per profile and cluster for the whole command: `tsh ssh` on a label selector connects in parallel. */
const refreshes = new WeakMap<SshProfile, Map<string, Promise<readonly string[] | undefined>>>();

function sharedRefresh(sshProfile: SshProfile, cluster: string, current: readonly string[]): Promise<readonly string[] | undefined> {
  let byCluster = refreshes.get(sshProfile);
  if (byCluster === undefined) refreshes.set(sshProfile, (byCluster = new Map()));
  let refresh = byCluster.get(cluster);
  if (refresh === undefined) byCluster.set(cluster, (refresh = refreshHostCaKeys(sshProfile, cluster, current)));
  return refresh;
}

/**
 * Connects and logs in as `login`. Refusals keep their text (`ERROR: <text>`): the proxy's routing errors, the
 * node's refusal of the login, a host certificate that is not from the host CA or does not name the node. A host
 * certificate from a CA `known_hosts` does not hold is retried once with the host CAs the proxy trusts now.
 */
export async function connectNode(sshProfile: SshProfile, options: NodeConnectOptions): Promise<NodeConnection> {
  const hostCaKeys = await readHostCaKeys(sshProfile, options.cluster);
  const debug = (message: string): void => {
    if (sshProfile.debug === true) process.stderr.write(`DEBUG: ${message}\n`);
  };
  return withHostCaRefresh(hostCaKeys, (keys) => connectOnce(sshProfile, options, keys), (current) => sharedRefresh(sshProfile, options.cluster, current), debug);
}

/** One connection attempt, trusting `hostCaKeys`. */
async function connectOnce(sshProfile: SshProfile, options: NodeConnectOptions, hostCaKeys: readonly string[]): Promise<NodeConnection> {
  const [privateKey, certificate] = await Promise.all([readFile(sshProfile.paths.sshKey, 'utf8'), readFile(sshProfile.paths.sshCert, 'utf8')]);
  const host = cleanTargetHost(options.host, sshProfile.proxy.host, options.cluster);
  const { socket, node } = await dialNode({
    proxy: sshProfile.proxy,
    tls: { key: sshProfile.creds.key, cert: sshProfile.creds.cert, ca: sshProfile.creds.caCerts },
    insecure: sshProfile.insecure,
    target: { host, port: options.port, cluster: options.cluster },
  });
  const { client, hostCertificate } = await connectSsh({
    sock: socket,
    login: options.login,
    privateKey,
    certificate: certificate.trim(),
    hostCaKeys,
    // Checked below against every name the routed node goes by.
    hostPrincipal: null,
    ...(options.forwardAgent !== undefined ? { forwardAgent: options.forwardAgent } : {}),
  });
  const close = (): void => {
    client.end();
    socket.destroy();
  };
  const accepted = acceptedPrincipals(node, options.cluster, host);
  if (!hostCertificate.validPrincipals.some((p) => accepted.includes(p))) {
    close();
    throw new AccessDeniedError(`ssh: the host certificate of ${node.hostname || node.name} does not name it (principals: ${hostCertificate.validPrincipals.join(', ')})`, {
      code: 'ERR_TP_SSH_PRINCIPAL',
    });
  }
  return { client, node, close };
}
