/** Who a database client at the proxy is: its TLS client certificate, verified, and the database route it carries. */

import type { TLSSocket } from 'node:tls';
import { derToPem, parseIdentity, type Identity } from '@teleport-ts/core/ca';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import type { CertAuthorityCache } from '../db/cas.js';
import { DATABASE_STREAM_PROTOCOL, type DatabaseStreamMeta } from '../db/wire.js';

/** Identity and route of a verified client certificate. */
export interface VerifiedClient {
  identity: Identity;
  certPem: string;
  serviceName: string;
}

/**
 * Verifies the client's certificate: user CA (rotation included), validity, cluster, a database route.
 *
 * @throws AccessDeniedError `access to db denied: ...` with a hint.
 */
export async function verifyDatabaseClient(socket: TLSSocket, trust: { cas: CertAuthorityCache; clusterName: string }): Promise<VerifiedClient> {
  // The X509Certificate object is lazy; getPeerCertificate() would decode every field (and hash it three ways).
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) {
    throw new AccessDeniedError('access to db denied: a client certificate is required', { hint: 'connect with `tsh db connect` or through `tsh proxy db`' });
  }
  const certPem = derToPem(peer.raw, 'CERTIFICATE');
  let identity: Identity;
  try {
    identity = (await trust.cas.verify('user', certPem, 'clientAuth')).identity;
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    throw new AccessDeniedError(`access to db denied: ${err.message}`, {
      code: err.kind === 'access-denied' ? err.code : 'ERR_TP_ACCESS_DENIED',
      hint: err.code === 'ERR_TP_TLS_CERT_EXPIRED' ? 'run `tsh db login` again' : 'log in with `tsh login` and `tsh db login` to this cluster',
    });
  }
  if (identity.teleportCluster !== trust.clusterName) throw new AccessDeniedError('access to db denied: the certificate was issued by another cluster');
  const route = identity.routeToDatabase;
  if (route === undefined || route.serviceName === '') {
    throw new AccessDeniedError('access to db denied: the certificate is not for a database', { hint: 'run `tsh db login <database>` first' });
  }
  return { identity, certPem, serviceName: route.serviceName };
}

/** Who a refused certificate named, for the audit log: only when its signature is ours (expired, wrong usage). */
export function refusedUser(socket: TLSSocket, err: unknown): { user?: string; db_service?: string } {
  const code = isTeleportError(err) ? err.code : '';
  if (code !== 'ERR_TP_TLS_CERT_EXPIRED' && code !== 'ERR_TP_TLS_CERT_NOT_YET_VALID' && code !== 'ERR_TP_TLS_CERT_USAGE') return {};
  try {
    const identity = parseIdentity(socket.getPeerCertificate().raw);
    return { user: identity.username, ...(identity.routeToDatabase ? { db_service: identity.routeToDatabase.serviceName } : {}) };
  } catch {
    return {};
  }
}

/** `IP:port` of the client, IPv6 in brackets. */
export function clientAddress(socket: TLSSocket): string {
  return `${socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]` : (socket.remoteAddress ?? '')}:${socket.remotePort ?? 0}`;
}

/** The header of the tunnel stream to an agent. */
export function databaseStreamMeta(verified: VerifiedClient, kind: 'session' | 'cancel', clientAddr: string): DatabaseStreamMeta {
  return { service: verified.serviceName, protocol: DATABASE_STREAM_PROTOCOL, kind, identity: { cert: verified.certPem }, clientAddr };
}
