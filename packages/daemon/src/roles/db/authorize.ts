/**
 * Who is connecting and whether they may: the db agent re-verifies the user certificate the proxy forwarded
 * (user CA, validity, cluster, route), settles the database user and name (the certificate's route wins; the
 * StartupMessage may only repeat it), and checks the user's roles (`db_labels`, `db_users`, `db_names`; deny wins;
 * `db_names` is not enforced for protocols that cannot enforce it, such as CockroachDB).
 */

import type { AuthClient } from '@teleport-ts/core/api';
import type { Identity, RouteToDatabase } from '@teleport-ts/core/ca';
import { AccessDeniedError, isNotFound } from '@teleport-ts/core/errors';
import { newAccessChecker } from '@teleport-ts/core/rbac';
import type { Role } from '@teleport-ts/core/types';
import type { CertAuthorityCache } from './cas.js';
import type { DatabaseSpec } from './config.js';

/** How long role definitions are reused by the agent before being read again from the auth server. */
export const DEFAULT_ROLE_CACHE_TTL_MS = 5_000;

/** The user's identity, verified, with the database route it carries. */
export interface DatabaseIdentity {
  identity: Identity;
  route: RouteToDatabase;
}

/** What a session may do: the database user and name it connects with. */
interface DatabaseGrant {
  dbUser: string;
  dbName: string;
  /** The StartupMessage parameters to send to the database (user and database set to the granted ones). */
  parameters: Record<string, string>;
}

export interface DatabaseAuthorizer {
  /** Verifies the forwarded certificate: user CA (rotation included), validity, cluster, database route. */
  verifyIdentity(certPem: string, database: DatabaseSpec): Promise<DatabaseIdentity>;
  /** Settles user and database name from the route and the StartupMessage, then checks the roles. */
  authorize(who: DatabaseIdentity, database: DatabaseSpec, startup: Readonly<Record<string, string>>): Promise<DatabaseGrant>;
}

export interface DatabaseAuthorizerOptions {
  cas: CertAuthorityCache;
  auth: Pick<AuthClient, 'getRole'>;
  clusterName: string;
  /** 0 reads roles on every session. */
  roleCacheTtlMs?: number;
}

const denied = (message: string, hint?: string) => new AccessDeniedError(message, hint === undefined ? {} : { hint });

/**
 * @example
 * ```ts
 * const authz = newDatabaseAuthorizer({ cas, auth, clusterName });
 * const who = await authz.verifyIdentity(meta.identity.cert, database);
 * const grant = await authz.authorize(who, database, startup.parameters);
 * ```
 */
export function newDatabaseAuthorizer(options: DatabaseAuthorizerOptions): DatabaseAuthorizer {
  const ttl = options.roleCacheTtlMs ?? DEFAULT_ROLE_CACHE_TTL_MS;
  const roles = new Map<string, { at: number; role: Promise<Role> }>();

  const getRole = (name: string): Promise<Role> => {
    const now = performance.now();
    const cached = roles.get(name);
    if (cached !== undefined && now - cached.at < ttl) return cached.role;
    const role = options.auth.getRole(name);
    roles.set(name, { at: now, role });
    role.catch(() => roles.delete(name));
    return role;
  };

  return {
    async verifyIdentity(certPem, database) {
      const { identity } = await options.cas.verify('user', certPem, 'clientAuth');
      if (identity.teleportCluster !== options.clusterName) throw denied('access to db denied: the certificate was issued by another cluster');
      const route = identity.routeToDatabase;
      if (route === undefined) throw denied('access to db denied: the certificate is not for a database', 'run `tsh db login <database>` first');
      if (route.serviceName !== database.name) {
        throw denied(`access to db denied: the certificate is for database ${JSON.stringify(route.serviceName)}, not ${JSON.stringify(database.name)}`);
      }
      // A resource access request confines the certificate to the resources it named.
      const allowed = identity.allowedResourceIds;
      if (allowed !== undefined && allowed.length > 0 && !allowed.includes(`/${options.clusterName}/db/${database.name}`)) {
        throw denied(`access to db denied: the active access request does not include database ${JSON.stringify(database.name)}`, 'drop the request with `tsh request drop`');
      }
      return { identity, route };
    },

    async authorize(who, database, startup) {
      const { route, identity } = who;
      const requestedUser = startup['user'] ?? '';
      const requestedName = startup['database'] ?? '';
      if (route.username && requestedUser !== '' && requestedUser !== route.username) {
        throw denied(
          `access to db denied: database user ${JSON.stringify(requestedUser)} does not match the certificate's ${JSON.stringify(route.username)}`,
          `connect as ${route.username}, or run \`tsh db login --db-user=${requestedUser} ${database.name}\``,
        );
      }
      if (route.database && requestedName !== '' && requestedName !== route.database) {
        throw denied(
          `access to db denied: database name ${JSON.stringify(requestedName)} does not match the certificate's ${JSON.stringify(route.database)}`,
          `connect to ${route.database}, or run \`tsh db login --db-name=${requestedName} ${database.name}\``,
        );
      }
      const dbUser = route.username || requestedUser;
      if (dbUser === '') throw denied('access to db denied: no database user given', 'pass --db-user to tsh db login');
      // PostgreSQL's default database is the user's name.
      const dbName = route.database || requestedName || dbUser;

      let roleList: Role[];
      try {
        roleList = await Promise.all(identity.roles.map(getRole));
      } catch (err) {
        if (isNotFound(err)) throw denied(`access to db denied: ${(err as Error).message}`, 'log in again to get a certificate with your current roles');
        throw err;
      }
      const checker = newAccessChecker({ roles: roleList, traits: identity.traits });
      checker.checkDatabaseAccess({ dbLabels: database.labels, dbUser, dbName, protocol: database.protocol });
      return { dbUser, dbName, parameters: { ...startup, user: dbUser, database: dbName } };
    },
  };
}
