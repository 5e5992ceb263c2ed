/**
 * Storage of the auth service's resources over a {@link Backend} (`@teleport-ts/core/services`), after
 * Teleport's `lib/services/local`: one service per area, each a narrow interface over backend keys.
 *
 * | service | keys |
 * |---|---|
 * | cluster configuration | `/cluster_configuration/name`, `/cluster_configuration/authentication_preference` |
 * | identity (users) | `/web/users/<name>/{params,pwd,mfa/totp,attempts}`, `/usertoken/<id>` |
 * | access (roles) | `/roles/<name>/params` |
 * | provisioning (join tokens) | `/tokens/<name>` |
 * | locks | `/locks/<name>` |
 * | access requests | `/access_requests/<id>` (expiring with the request, or its access once approved) |
 * | trust (CAs) | `/authorities/<type>/<cluster>` |
 *
 * Several auth servers may share one backend: writes that depend on what they read are conditional
 * (revisions, atomic writes), so concurrent writers never lose an update.
 *
 * @example
 * ```ts
 * import { newAccessService, newIdentityService } from '@teleport-ts/core/services';
 * const roles = newAccessService(backend);
 * const users = newIdentityService({ backend, clock });
 * ```
 */
export { decodedPerItem, decodeJson, encodeJson, getAllWithPrefix, getOptional, updateWithRetry } from './items.js';
export {
  AUTH_PREFERENCE_KEY,
  CLUSTER_NAME_KEY,
  newClusterConfigService,
  type ClusterConfigService,
  type ClusterNameResource,
} from './cluster-config.js';
export { newAccessService, roleKey, type AccessService } from './access.js';
export { LOCKS_PREFIX, lockKey, newLockService, parseStoredLock, type LockService } from './locks.js';
export { accessRequestKey, newAccessRequestService, type AccessRequestService } from './access-requests.js';
export { newProvisioningService, provisionTokenKey, type ProvisioningService } from './provisioning.js';
export { certAuthorityKey, newTrustService, type StoredCertAuthority, type TrustService } from './trust.js';
export {
  newIdentityService,
  userKeys,
  userTokenKey,
  type IdentityService,
  type IdentityServiceOptions,
  type NewCredentials,
  type TotpDevice,
  type UserToken,
} from './identity.js';
