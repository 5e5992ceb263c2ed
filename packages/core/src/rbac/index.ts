/**
 * Pure access decisions (`@teleport-ts/core/rbac`): preset roles, trait templates, label matching and
 * the {@link AccessChecker} built from a user's roles and traits. No I/O: roles come in through the
 * caller or a narrow {@link RoleGetter}.
 *
 * @example
 * ```ts
 * import { accessCheckerForUser } from '@teleport-ts/core/rbac';
 * const checker = await accessCheckerForUser(user, roleStore);
 * checker.checkLogin('ubuntu', node.labels);
 * ```
 */
export {
  PROTOCOLS_WITHOUT_DB_NAME_RBAC,
  requiresDatabaseNameMatch,
  newAccessChecker,
  accessCheckerForUser,
  type AccessChecker,
  type DatabaseAccessRequest,
  type NewAccessCheckerOptions,
  type RoleGetter,
  type RuleCheckOptions,
  type WhereEvaluator,
} from './checker.js';
export { matchLabels, type LabelMatchOptions, type ResourceLabels } from './labels.js';
export {
  PRESET_ACCESS_ROLE,
  PRESET_EDITOR_ROLE,
  PRESET_AUDITOR_ROLE,
  PRESET_REQUESTER_ROLE,
  PRESET_REVIEWER_ROLE,
  PRESET_LABELS,
  newPresetAccessRole,
  newPresetEditorRole,
  newPresetAuditorRole,
  newPresetRequesterRole,
  newPresetReviewerRole,
  presetRoles,
} from './presets.js';
export { applyTraits, applyTraitsToList, applyTraitsToLabels } from './traits.js';
export {
  assertCanReview,
  canReview,
  evaluateReviewFilter,
  requestRules,
  requestableRoles,
  searchAsRoles,
  stateFromReviews,
  type RequestRules,
  type RoleSet,
} from './requests.js';
export { withReview, withState } from './requests.js';
