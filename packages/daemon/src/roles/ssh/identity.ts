/**
 * The node's host identity: TLS and an SSH host certificate from the host CA, system role `Node`. A node joins once
 * with a `--type=node` token and the CA pin and keeps its identity in `<data_dir>/node/` (a restart needs no token);
 * next to an auth service it is issued in process.
 */

import path from 'node:path';
import { AUTH_VIA_PROXY_ALPN, type Identity } from '@teleport-ts/core/api';
import {
  BALANCED_V1,
  formatSshCertificate,
  generateKeyPair,
  issueSshHostCert,
  sshSigningKeyPair,
  toOpenSshPrivateKey,
  trustedSshKeys,
} from '@teleport-ts/core/ca';
import { BadParameterError } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';
import { issueLocalHostIdentity, type AuthServer } from '../auth/index.js';
import { loadOrJoinIdentity } from '../join.js';

/** Where a node that joined keeps its identity. */
const NODE_IDENTITY_DIR = 'node';
/** Host names a node listening directly also answers to (Teleport adds them for direct dials). */
export const NODE_LOCAL_PRINCIPALS = ['localhost', '127.0.0.1'];
const LOCAL_PRINCIPALS = NODE_LOCAL_PRINCIPALS;

/** Where a node that joined keeps its identity. */
export function nodeIdentityDir(dataDir: string): string {
  return path.join(dataDir, NODE_IDENTITY_DIR);
}

export interface NodeIdentityOptions {
  dataDir: string;
  nodename: string;
  hostUuid: string;
  join: { token?: string; authServer?: string; caPins: readonly string[] };
  auth?: AuthServer;
  /** The node listens directly: its host certificate also names localhost. */
  direct: boolean;
  logger: Logger;
}

/** In process, next to the auth service: the TLS identity plus an SSH host certificate for a fresh key. */
export async function issueNodeIdentityInProcess(auth: AuthServer, options: Pick<NodeIdentityOptions, 'nodename' | 'direct'>): Promise<Identity> {
  const identity = await issueLocalHostIdentity(auth.context, 'Node', auth.dialAddr);
  const ctx = auth.context;
  const hostCa = (await ctx.trust.getCertAuthority('host', ctx.clusterName)).ca;
  const keys = await generateKeyPair(BALANCED_V1['ssh-host'], { comment: options.nodename });
  const cert = await issueSshHostCert({
    ca: sshSigningKeyPair(hostCa).private_key,
    publicKey: keys.sshPublicKey,
    hostId: ctx.hostUuid,
    clusterName: ctx.clusterName,
    nodeName: options.nodename,
    systemRole: 'Node',
    additionalPrincipals: [`${options.nodename}.${ctx.clusterName}`, ...(options.direct ? LOCAL_PRINCIPALS : [])],
    clock: ctx.clock,
  });
  return {
    ...identity,
    sshKey: toOpenSshPrivateKey(keys.privateKeyPem, options.nodename),
    sshCert: formatSshCertificate(cert),
    sshCaKeys: trustedSshKeys(hostCa),
  };
}

/** The node's identity and the address of the auth API (the auth server, or a proxy in front of it). */
export async function obtainNodeIdentity(options: NodeIdentityOptions): Promise<{ identity: Identity; authAddr: string }> {
  if (options.auth) return { identity: await issueNodeIdentityInProcess(options.auth, options), authAddr: options.auth.dialAddr };
  const identity = await loadOrJoinIdentity({
    dir: path.join(options.dataDir, NODE_IDENTITY_DIR),
    join: options.join,
    missingFlags: {
      message: 'the node needs --token, --proxy-server (or --auth-server) and --ca-pin to join the cluster',
      hint: 'on the auth server: tctl tokens add --type=node prints the command',
    },
    register: {
      role: 'Node',
      hostUuid: options.hostUuid,
      nodename: options.nodename,
      alpnProtocols: AUTH_VIA_PROXY_ALPN,
      ...(options.direct ? { additionalPrincipals: LOCAL_PRINCIPALS } : {}),
    },
    logger: options.logger,
    joinedMessage: 'node joined the cluster',
  });
  if (identity.sshKey === undefined || identity.sshCert === undefined) {
    throw new BadParameterError(`the identity in ${path.join(options.dataDir, NODE_IDENTITY_DIR)} has no SSH host certificate`, { hint: 'remove that directory and join again with a new token' });
  }
  const authAddr = options.join.authServer ?? identity.authServers?.[0];
  if (authAddr === undefined) throw new BadParameterError('the node needs --proxy-server or --auth-server', { hint: 'the proxy address, host:port' });
  return { identity, authAddr };
}
