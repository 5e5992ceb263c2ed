/**
 * Resource types and their validation (`@teleport-ts/core/types`). Every resource is parsed once at the
 * edge (`parseRole(unknown) -> Role`, ...): validated, defaults filled, frozen. Failures are
 * {@link BadParameterError}s with one line naming the resource and field.
 *
 * @example
 * ```ts
 * import { resourceFromYaml, resourceToYaml } from '@teleport-ts/core/types';
 * const resources = resourceFromYaml(text);
 * console.log(resourceToYaml(resources));
 * ```
 */
export { parseDuration, formatDuration, formatDurationShort, parseTtl, MAX_TTL_MS } from './duration.js';
export { WILDCARD, isRegexLabelValue, type LabelSelector } from './labels.js';
export { MAX_NAME_LENGTH, type Metadata, type ResourceHeader } from './metadata.js';
export { checkNewName, nameProblem, quoteName } from './names.js';
export { INTERNAL_TRAITS, parseTraitTemplate, type TraitNamespace, type TraitTemplate } from './template.js';
export {
  KIND_ROLE,
  ROLE_VERSIONS,
  DEFAULT_MAX_SESSION_TTL_MS,
  SESSION_RECORDING_MODES,
  CERT_FORMATS,
  parseRole,
  roleToWire,
  type Role,
  type RoleVersion,
  type RoleSpec,
  type RoleConditions,
  type RoleOptions,
  type Rule,
  type AccessRequestConditions,
  type AccessReviewConditions,
  type AccessReviewThreshold,
  type RequestAccessMode,
  type RecordSession,
  type SessionRecordingMode,
  type CertFormat,
} from './role.js';
export {
  KIND_USER,
  USER_VERSIONS,
  TRAIT_LOGINS,
  TRAIT_DB_USERS,
  TRAIT_DB_NAMES,
  parseUser,
  userToWire,
  type User,
  type UserVersion,
  type UserSpec,
  type UserStatus,
  type CreatedBy,
  type Traits,
} from './user.js';
export {
  KIND_TOKEN,
  TOKEN_VERSIONS,
  SYSTEM_ROLES,
  JOIN_TOKEN_ROLES,
  JOIN_METHODS,
  parseSystemRoles,
  parseProvisionToken,
  provisionTokenToWire,
  type ProvisionToken,
  type ProvisionTokenSpec,
  type SystemRole,
  type JoinTokenRole,
  type JoinMethod,
  type TokenVersion,
} from './token.js';
export {
  KIND_CLUSTER_AUTH_PREFERENCE,
  AUTH_PREFERENCE_NAME,
  AUTH_PREFERENCE_VERSIONS,
  AUTH_TYPES,
  SECOND_FACTORS,
  DEFAULT_SECOND_FACTOR,
  parseAuthPreference,
  defaultAuthPreference,
  authPreferenceToWire,
  type AuthPreference,
  type AuthPreferenceSpec,
  type AuthPreferenceVersion,
  type AuthType,
  type SecondFactor,
} from './auth-preference.js';
export { RESOURCE_KINDS, parseResource, resourceToWire, type Resource, type ResourceKind } from './resource.js';
export { MAX_YAML_LENGTH, resourceFromYaml, resourceToYaml } from './yaml.js';
export {
  KIND_LOCK,
  LOCK_VERSIONS,
  LOCK_TARGET_FIELDS,
  parseLock,
  lockToWire,
  lockInForce,
  lockMatches,
  lockInForceMessage,
  findLockInForce,
  assertNoLockInForce,
  LOCKED_ERROR_CODE,
  type Lock,
  type LockSpec,
  type LockTarget,
  type LockSubject,
  type LockVersion,
} from './lock.js';
export {
  KIND_ACCESS_REQUEST,
  ACCESS_REQUEST_STATES,
  REVIEW_STATES,
  parseAccessRequest,
  accessRequestToWire,
  parseResourceId,
  type AccessRequest,
  type AccessRequestSpec,
  type AccessRequestState,
  type AccessReview,
  type ReviewState,
  type RequestThreshold,
} from './access-request.js';
export {
  KIND_NODE,
  NODE_VERSIONS,
  SUBKIND_OPENSSH,
  SUBKIND_TELEPORT,
  parseNode,
  parseListedNode,
  nodeToWire,
  nodeLabels,
  compareNodes,
  type NodeServer,
  type NodeSpec,
  type NodeSubKind,
  type CommandLabel,
} from './node.js';
