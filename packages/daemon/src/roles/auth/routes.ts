/**
 * The auth API routes. Each handler identifies nothing itself: the router passes the caller (from the
 * client certificate), and each operation authorizes it first. Public routes (ping, join, user tokens)
 * are rate-limited per source address; every other route requires a certificate.
 */

import { AUTH_API_PREFIX } from '@teleport-ts/core/api';
import type { Handler, RequestContext, Router } from '../../http/router.js';
import type { RateLimiter } from '../../http/ratelimit.js';
import type { Caller } from './authz.js';
import { getInstances, reissueHostCerts, upsertInstance, watchCertAuthorities } from './instances.js';
import { generateOpenSshCert } from './openssh-certs.js';
import { authenticateUser, generateDatabaseCert, generateDatabaseClientCert, generateHostCert, generateUserCerts, registerUsingToken } from './certs.js';
import type { AuthContext } from './context.js';
import { emitAuditEvents, getDatabaseServers, upsertDatabaseServer } from './databases.js';
import { deleteNode, getNodes, upsertNode } from './nodes.js';
import { deleteProxy, getProxies, getTunnelStrategy, upsertProxy } from './proxies.js';
import {
  createRole,
  createToken,
  deleteRole,
  deleteToken,
  getAuthPreference,
  getCertAuthorities,
  getClusterName,
  getClusterStatus,
  getRole,
  getRoles,
  getTokens,
  ping,
  rotateCertAuthority,
  searchEvents,
  setAuthPreference,
  upsertRole,
} from './resources.js';
import { deleteLock, getLock, getLocks, upsertLock } from './locks.js';
import {
  createAccessRequest,
  deleteAccessRequest,
  getAccessCapabilities,
  getAccessRequest,
  getAccessRequests,
  reviewAccessRequest,
  searchRequestableResources,
  setAccessRequestState,
  waitForAccessRequest,
} from './access-requests.js';
import { watchAccessRequests } from './access-request-watch.js';
import { getBackendItems, watchBackend } from './backend-watch.js';
import { completeRecording, getSessionRecordingConfig, listRecordings, streamRecording, uploadRecordingPart } from './recordings.js';
import { completeUserToken, createResetPasswordToken, createUser, deleteUser, getUser, getUserToken, getUsers, updateUser } from './users.js';

type Ctx = RequestContext<Caller>;

/**
 * Ping answers anyone, but takes a token only from anonymous callers: proxies, agents and tctl present their
 * certificates, and all share one address on a single machine (a proxy relaying tsh's pings through a bucket that
 * tctl and the agents drained during a CA rotation failed tsh logins with "too many requests").
 */
function anonymousLimited(limiter: RateLimiter, handler: Handler<Caller>): Handler<Caller> {
  return async (c) => {
    if (c.identity.kind === 'anonymous') limiter.take(c.remoteAddr);
    return handler(c);
  };
}

/** Registers every auth API route on `router`. */
export function registerAuthRoutes(router: Router<Caller>, ctx: AuthContext, limiter: RateLimiter): void {
  const p = (path: string): string => `${AUTH_API_PREFIX}${path}`;
  const publicRoute = (handler: Handler<Caller>): Handler<Caller> => async (c) => {
    limiter.take(c.remoteAddr);
    return handler(c);
  };
  const name = (c: Ctx): string => c.params['name'] ?? '';

  // Unauthenticated.
  router.add('GET', p('/ping'), anonymousLimited(limiter, () => ping(ctx)));
  router.add('POST', p('/join'), publicRoute((c) => registerUsingToken(ctx, c.identity, c.body)));
  router.add('POST', p('/usertokens/lookup'), publicRoute((c) => getUserToken(ctx, c.body)));
  router.add('POST', p('/usertokens/complete'), publicRoute((c) => completeUserToken(ctx, c.identity, c.body)));

  // Authenticated: each operation checks the caller's rules.
  router.add('GET', p('/clustername'), async (c) => getClusterName(ctx, c.identity));
  router.add('GET', p('/status'), (c) => getClusterStatus(ctx, c.identity));

  router.add('GET', p('/users'), (c) => getUsers(ctx, c.identity));
  router.add('POST', p('/users'), (c) => createUser(ctx, c.identity, c.body));
  router.add('GET', p('/users/:name'), (c) => getUser(ctx, c.identity, name(c)));
  router.add('PUT', p('/users/:name'), (c) => updateUser(ctx, c.identity, name(c), c.body));
  router.add('DELETE', p('/users/:name'), (c) => deleteUser(ctx, c.identity, name(c)));
  router.add('POST', p('/users/:name/reset'), (c) => createResetPasswordToken(ctx, c.identity, name(c), c.body));

  router.add('GET', p('/roles'), (c) => getRoles(ctx, c.identity));
  router.add('POST', p('/roles'), (c) => createRole(ctx, c.identity, c.body));
  router.add('GET', p('/roles/:name'), (c) => getRole(ctx, c.identity, name(c)));
  router.add('PUT', p('/roles/:name'), (c) => upsertRole(ctx, c.identity, name(c), c.body));
  router.add('DELETE', p('/roles/:name'), (c) => deleteRole(ctx, c.identity, name(c)));

  router.add('GET', p('/tokens'), (c) => getTokens(ctx, c.identity));
  router.add('POST', p('/tokens'), (c) => createToken(ctx, c.identity, c.body));
  router.add('POST', p('/tokens/delete'), (c) => deleteToken(ctx, c.identity, c.body));

  router.add('GET', p('/locks'), (c) => getLocks(ctx, c.identity));
  router.add('GET', p('/locks/:name'), (c) => getLock(ctx, c.identity, name(c)));
  router.add('PUT', p('/locks/:name'), (c) => upsertLock(ctx, c.identity, name(c), c.body));
  router.add('DELETE', p('/locks/:name'), (c) => deleteLock(ctx, c.identity, name(c)));

  const id = (c: Ctx): string => c.params['id'] ?? '';
  router.add('POST', p('/accessrequests'), (c) => createAccessRequest(ctx, c.identity, c.body));
  router.add('GET', p('/accessrequests'), (c) => getAccessRequests(ctx, c.identity, c.query.get('scope')));
  router.add('GET', p('/accessrequests/capabilities'), (c) => getAccessCapabilities(ctx, c.identity));
  router.add('GET', p('/accessrequests/watch'), (c) => watchAccessRequests(ctx, c.identity));
  router.add('GET', p('/backend/watch'), (c) => watchBackend(ctx, c.identity, c.query.getAll('prefix')));
  router.add('GET', p('/backend/items'), (c) => getBackendItems(ctx, c.identity, c.query));
  router.add('GET', p('/accessrequests/search'), (c) => searchRequestableResources(ctx, c.identity, c.query.get('kind')));
  router.add('GET', p('/accessrequests/:id'), (c) => getAccessRequest(ctx, c.identity, id(c)));
  router.add('DELETE', p('/accessrequests/:id'), (c) => deleteAccessRequest(ctx, c.identity, id(c)));
  router.add('POST', p('/accessrequests/:id/reviews'), (c) => reviewAccessRequest(ctx, c.identity, id(c), c.body));
  router.add('PUT', p('/accessrequests/:id/state'), (c) => setAccessRequestState(ctx, c.identity, id(c), c.body));
  router.add('GET', p('/accessrequests/:id/wait'), (c) => waitForAccessRequest(ctx, c.identity, id(c), c.query.get('timeout')));

  router.add('GET', p('/authpreference'), (c) => getAuthPreference(ctx, c.identity));
  router.add('PUT', p('/authpreference'), (c) => setAuthPreference(ctx, c.identity, c.body));

  router.add('POST', p('/cas/rotate'), (c) => rotateCertAuthority(ctx, c.identity, c.body));
  // Before `/cas/:type`, which would take `watch` for a CA type.
  router.add('GET', p('/cas/watch'), async (c) => watchCertAuthorities(ctx, c.identity));
  router.add('GET', p('/cas/:type'), (c) => getCertAuthorities(ctx, c.identity, c.params['type'] ?? '', c.query.get('secrets') === 'true'));

  router.add('POST', p('/certs/user'), (c) => generateUserCerts(ctx, c.identity, c.body));
  router.add('POST', p('/certs/db'), (c) => generateDatabaseCert(ctx, c.identity, c.body));
  router.add('POST', p('/certs/dbclient'), (c) => generateDatabaseClientCert(ctx, c.identity, c.body));
  router.add('POST', p('/certs/host'), (c) => generateHostCert(ctx, c.identity, c.body));
  router.add('POST', p('/certs/openssh'), (c) => generateOpenSshCert(ctx, c.identity, c.body));
  router.add('POST', p('/authenticate'), (c) => authenticateUser(ctx, c.identity, c.body));

  router.add('GET', p('/events'), (c) => searchEvents(ctx, c.identity, c.query));
  router.add('POST', p('/events'), (c) => emitAuditEvents(ctx, c.identity, c.body));

  registerServerRoutes(router, ctx, p);
}

/** Routes agents and proxies use (heartbeats, recordings, tunnel strategy), and the listings that read them. */
function registerServerRoutes(router: Router<Caller>, ctx: AuthContext, p: (path: string) => string): void {
  const name = (c: Ctx): string => c.params['name'] ?? '';
  router.add('GET', p('/sessionrecording'), async (c) => getSessionRecordingConfig(ctx, c.identity));
  router.add('GET', p('/recordings'), (c) => listRecordings(ctx, c.identity, c.query.get('limit')));
  router.add('GET', p('/recordings/:sid/events'), (c) => streamRecording(ctx, c.identity, c.params['sid'] ?? ''));
  router.add('PUT', p('/recordings/:sid/parts/:index'), (c) => uploadRecordingPart(ctx, c.identity, c.params['sid'] ?? '', c.params['index'] ?? '', c.body));
  router.add('POST', p('/recordings/:sid/complete'), (c) => completeRecording(ctx, c.identity, c.params['sid'] ?? '', c.body));
  router.add('GET', p('/nodes'), (c) => getNodes(ctx, c.identity));
  router.add('PUT', p('/nodes/:name'), (c) => upsertNode(ctx, c.identity, name(c), c.body));
  router.add('DELETE', p('/nodes/:name'), (c) => deleteNode(ctx, c.identity, name(c)));

  router.add('GET', p('/dbservers'), (c) => getDatabaseServers(ctx, c.identity));
  router.add('PUT', p('/dbservers/:host/:name'), (c) => upsertDatabaseServer(ctx, c.identity, c.params['host'] ?? '', name(c), c.body));
  router.add('GET', p('/proxies'), (c) => getProxies(ctx, c.identity));
  router.add('PUT', p('/proxies/:name'), (c) => upsertProxy(ctx, c.identity, name(c), c.body));
  router.add('DELETE', p('/proxies/:name'), (c) => deleteProxy(ctx, c.identity, name(c)));
  router.add('GET', p('/networking/tunnelstrategy'), (c) => getTunnelStrategy(ctx, c.identity));
  router.add('POST', p('/certs/reissue'), (c) => reissueHostCerts(ctx, c.identity, c.body));
  router.add('GET', p('/instances'), (c) => getInstances(ctx, c.identity));
  router.add('PUT', p('/instances/:role'), (c) => upsertInstance(ctx, c.identity, c.params['role'] ?? '', c.body));}
