/**
 * What the db commands ask the cluster, through the proxy's `teleport-auth` passthrough with the user's own TLS
 * certificate (the auth server sees the user, as with Teleport's `tsh`): the databases the user may see, the user's
 * roles (to tell which database users and names they allow), and database certificates.
 */

import { createPublicKey } from 'node:crypto';
import { AUTH_VIA_PROXY_ALPN, newAuthClient, WebPingResponse, type Database } from '@teleport-ts/core/api';
import { isKind, isNotFound } from '@teleport-ts/core/errors';
import type { TlsCredentials } from '@teleport-ts/core/profile';
import type { NodeServer, Role } from '@teleport-ts/core/types';
import { parseProxyAddr, proxyRequest } from '../webclient.js';
import type { DatabaseInfo, DatabaseRoute } from './databases.js';

/** The cluster operations of the db commands (a fake in unit tests). */
export interface DatabaseCluster {
  /** Databases the user's roles let them see, once each, by name. */
  listDatabases(): Promise<{ info: DatabaseInfo; resource: Database }[]>;
  /** The SSH nodes the user's roles let them see (`tsh ls`). */
  listNodes(): Promise<NodeServer[]>;
  /** The user's roles, or `undefined` when the cluster does not let the user read them. */
  userRoles(names: readonly string[]): Promise<Role[] | undefined>;
  /** A database certificate for the stored TLS key. */
  issueDatabaseCert(route: DatabaseRoute, ttlMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** How long the first check of the proxy's web certificate may take. */
const PING_TIMEOUT_MS = 10_000;

/**
 * Connects to the auth API through the proxy at `proxyAddr` (`host:port`). Before the first call it asks the
 * proxy's web API (`/webapi/ping`) as Teleport's tsh does, verifying the proxy's own certificate unless
 * `insecure`: the passthrough below is verified with the cluster's CA, but the database tunnel meets the web
 * certificate, so an untrusted one fails here, before anything starts, with the `--insecure` hint of `tsh login`.
 */
export function openDatabaseCluster(proxyAddr: string, user: string, creds: TlsCredentials, insecure = false): DatabaseCluster {
  const target = parseProxyAddr(proxyAddr);
  let pinged: Promise<unknown> | undefined;
  const ready = (): Promise<unknown> => (pinged ??= proxyRequest(target, 'GET', '/webapi/ping', undefined, { insecure, timeoutMs: PING_TIMEOUT_MS }, WebPingResponse));
  // The proxy passes `teleport-auth` connections through to the auth server, which verifies the user's certificate.
  const client = newAuthClient({
    addr: target.addr,
    tls: { key: creds.key, cert: creds.cert, ca: creds.caCerts },
    alpnProtocols: AUTH_VIA_PROXY_ALPN,
    peer: `proxy ${target.addr}`,
    hints: { refused: 'is the proxy running, and is --proxy right?', verify: 'log in again with tsh login' },
  });
  /**
   * A read sent while the ping is in flight (one round trip less: the read goes over the passthrough, verified with
   * the cluster's CA, so it needs nothing from the ping); a failed ping is still what the user is told.
   */
  const withPing = async <T>(read: () => Promise<T>): Promise<T> => {
    const answer = read();
    answer.catch(() => undefined);
    await ready();
    return answer;
  };
  return {
    async listDatabases() {
      const servers = await withPing(() => client.getDatabaseServers());
      const byName = new Map<string, Database>();
      for (const s of servers) if (!byName.has(s.metadata.name)) byName.set(s.metadata.name, s.spec.database);
      return [...byName.values()].map((resource) => ({
          resource,
          info: {
            name: resource.metadata.name,
            description: resource.metadata.description ?? '',
            protocol: resource.spec.protocol,
            uri: resource.spec.uri,
            labels: resource.metadata.labels ?? {},
          },
        }));
    },
    listNodes: () => withPing(() => client.getNodes()),
    async userRoles(names) {
      try {
        return await withPing(() => Promise.all(names.map((n) => client.getRole(n))));
      } catch (err) {
        if (isKind(err, 'access-denied') || isNotFound(err)) return undefined;
        throw err;
      }
    },
    async issueDatabaseCert(route, ttlMs) {
      await ready();
      const tlsPublicKey = createPublicKey(creds.key).export({ type: 'spki', format: 'pem' }) as string;
      const certs = await client.generateUserCerts({
        user,
        sshPublicKey: creds.sshPublicKey,
        tlsPublicKey,
        ...(ttlMs !== undefined ? { ttl: ttlMs } : {}),
        routeToDatabase: {
          serviceName: route.serviceName,
          protocol: route.protocol,
          ...(route.username !== '' ? { username: route.username } : {}),
          ...(route.database !== '' ? { database: route.database } : {}),
        },
      });
      return certs.tlsCert;
    },
    close: () => client.close(),
  };
}
