/**
 * The access request rules, pure: which roles a user may request, which thresholds decide a request, who may review it,
 * and what a review does to its state. The auth server loads roles and stores requests; everything it decides is here.
 */

import { AccessDeniedError, BadParameterError } from '../errors/index.js';
import type { AccessRequest, AccessRequestState, AccessReview, RequestThreshold, Role, Traits } from '../types/index.js';
import { matchLabels } from './labels.js';
import { applyTraitsToList } from './traits.js';

/** Someone's roles and traits: a requester or a reviewer. */
export interface RoleSet {
  readonly roles: readonly Role[];
  readonly traits: Traits;
}

/** Teleport's default when no role sets thresholds: one approval approves, one denial denies. */
const DEFAULT_THRESHOLD: RequestThreshold = { approve: 1, deny: 1 };

/** A role name matches a pattern as a label value does: exact, `*`, a glob, or `^regex$`. */
function matchesPattern(patterns: readonly string[], name: string): boolean {
  return patterns.length > 0 && matchLabels({ role: patterns }, { role: name }, { invalidPatternMatches: false });
}

function deniedByPattern(patterns: readonly string[], name: string): boolean {
  return patterns.length > 0 && matchLabels({ role: patterns }, { role: name }, { invalidPatternMatches: true });
}

const q = (s: string): string => JSON.stringify(s.length > 128 ? `${s.slice(0, 128)}…` : s);

/** The roles of `set` whose `allow.request.roles` (or `search_as_roles`) match `role`, when no role denies it. */
function grantingRoles(set: RoleSet, role: string, field: 'roles' | 'search_as_roles'): Role[] {
  for (const r of set.roles) {
    if (deniedByPattern(applyTraitsToList(r.spec.deny.request?.[field] ?? [], set.traits), role)) return [];
  }
  return set.roles.filter((r) => matchesPattern(applyTraitsToList(r.spec.allow.request?.[field] ?? [], set.traits), role));
}

/**
 * The names among `candidates` (every role of the cluster) that `set` may request.
 *
 * @example
 * ```ts
 * requestableRoles({ roles: [requester], traits: {} }, ['access', 'dba', 'editor']); // ['access']
 * ```
 */
export function requestableRoles(set: RoleSet, candidates: readonly string[]): string[] {
  return candidates.filter((name) => grantingRoles(set, name, 'roles').length > 0);
}

/** The roles a resource request grants: the literal `search_as_roles` of `set` that no role denies. */
export function searchAsRoles(set: RoleSet): string[] {
  const out = new Set<string>();
  for (const r of set.roles) for (const name of applyTraitsToList(r.spec.allow.request?.search_as_roles ?? [], set.traits)) out.add(name);
  return [...out].filter((name) => !/[*^$]/.test(name) && grantingRoles(set, name, 'search_as_roles').length > 0);
}

/** What a new request carries from its requester's roles. */
export interface RequestRules {
  thresholds: RequestThreshold[];
  role_thresholds: Record<string, number[]>;
  /** The longest access the requester's roles allow, when one sets `max_duration`. */
  maxDurationMs?: number;
}

/**
 * Checks that `set` may request every role in `roles` and returns the thresholds that will decide it: for each role,
 * those of the requester's roles that allow requesting it (Teleport's default of one approval when they set none).
 *
 * @throws AccessDeniedError naming the first role that may not be requested.
 */
export function requestRules(set: RoleSet, roles: readonly string[], kind: 'role' | 'resource'): RequestRules {
  if (roles.length === 0) throw new BadParameterError('an access request needs at least one role', { hint: 'pass --roles=<role> or --resource=/<cluster>/db/<name>' });
  const thresholds: RequestThreshold[] = [];
  const index = new Map<string, number>();
  const role_thresholds: Record<string, number[]> = {};
  let maxDurationMs: number | undefined;
  for (const name of roles) {
    const granting = grantingRoles(set, name, kind === 'role' ? 'roles' : 'search_as_roles');
    if (granting.length === 0) throw new AccessDeniedError(`user may not request role ${q(name)}`, { hint: 'ask for a role your roles list under allow.request.roles' });
    const ids = new Set<number>();
    for (const g of granting) {
      const request = g.spec.allow.request;
      if (request?.max_duration !== undefined) maxDurationMs = Math.min(maxDurationMs ?? Infinity, request.max_duration);
      for (const t of request?.thresholds?.length ? request.thresholds : [DEFAULT_THRESHOLD]) {
        const key = JSON.stringify([t.filter ?? '', t.approve, t.deny]);
        let id = index.get(key);
        if (id === undefined) {
          id = thresholds.push({ ...(t.name ? { name: t.name } : {}), ...(t.filter ? { filter: t.filter } : {}), approve: t.approve, deny: t.deny }) - 1;
          index.set(key, id);
        }
        ids.add(id);
      }
    }
    role_thresholds[name] = [...ids];
  }
  return { thresholds, role_thresholds, ...(maxDurationMs !== undefined ? { maxDurationMs } : {}) };
}

/**
 * Refuses a review `reviewer` may not make: of their own request, of a request no longer pending, twice, or of a request
 * whose roles their `review_requests` does not cover (every role must match an allow pattern, none a deny pattern).
 *
 * @throws AccessDeniedError with the reason.
 */
export function assertCanReview(reviewer: RoleSet & { name: string }, request: AccessRequest): void {
  const spec = request.spec;
  if (reviewer.name === spec.user) throw new AccessDeniedError('a user may not review their own access request');
  if (spec.state !== 'PENDING') throw new AccessDeniedError(`access request ${request.metadata.name} is already ${spec.state.toLowerCase()}`);
  if (spec.reviews.some((r) => r.author === reviewer.name)) throw new AccessDeniedError(`user ${q(reviewer.name)} has already reviewed access request ${request.metadata.name}`);
  if (!canReview(reviewer, request)) {
    throw new AccessDeniedError(`user ${q(reviewer.name)} may not review access requests for ${spec.roles.join(', ')}`, {
      hint: 'a reviewer needs a role whose allow.review_requests.roles covers every requested role',
    });
  }
}

/** True when the reviewer's `review_requests` covers every role of the request (without the other checks). */
export function canReview(reviewer: RoleSet & { name: string }, request: AccessRequest): boolean {
  if (reviewer.name === request.spec.user) return false;
  const allow = reviewer.roles.flatMap((r) => applyTraitsToList(r.spec.allow.review_requests?.roles ?? [], reviewer.traits));
  const deny = reviewer.roles.flatMap((r) => applyTraitsToList(r.spec.deny.review_requests?.roles ?? [], reviewer.traits));
  return request.spec.roles.every((role) => matchesPattern(allow, role) && !deniedByPattern(deny, role));
}

/** Whether a review counts toward a threshold: its filter holds for the reviewer (an unparsable filter never holds). */
function counts(threshold: RequestThreshold, review: AccessReview, traits: Traits | undefined): boolean {
  if (threshold.filter === undefined) return true;
  try {
    return evaluateReviewFilter(threshold.filter, { roles: review.roles, traits: traits ?? {} });
  } catch {
    return false;
  }
}

/**
 * The state the reviews lead to: DENIED when some threshold of the request has its deny count of matching denials;
 * APPROVED when every requested role has a threshold with its approve count of matching approvals; else PENDING.
 */
export function stateFromReviews(spec: AccessRequest['spec'], reviewerTraits: Readonly<Record<string, Traits>> = {}): AccessRequestState {
  const tally = (t: RequestThreshold, state: 'APPROVED' | 'DENIED'): number =>
    spec.reviews.filter((r) => r.state === state && counts(t, r, reviewerTraits[r.author])).length;
  const thresholds = spec.thresholds.length > 0 ? spec.thresholds : [DEFAULT_THRESHOLD];
  if (thresholds.some((t) => tally(t, 'DENIED') >= t.deny)) return 'DENIED';
  const met = thresholds.map((t) => tally(t, 'APPROVED') >= t.approve);
  const roles = Object.keys(spec.role_thresholds);
  const approved = roles.length === 0 ? met.some(Boolean) : roles.every((role) => (spec.role_thresholds[role] ?? []).some((i) => met[i] === true));
  return approved ? 'APPROVED' : 'PENDING';
}

/**
 * The request with `review` added and its state recomputed ({@link stateFromReviews}); the deciding review's reason
 * becomes the resolve reason. Call {@link assertCanReview} first.
 *
 * @example
 * ```ts
 * const next = withReview(request, { author: 'alice', roles: ['reviewer'], state: 'APPROVED', created: now.toISOString() });
 * next.spec.state; // 'APPROVED' with the default threshold
 * ```
 */
export function withReview(request: AccessRequest, review: AccessReview): AccessRequest {
  const reviews = [...request.spec.reviews, review];
  const state = stateFromReviews({ ...request.spec, reviews });
  const decided = state !== 'PENDING' && review.reason !== undefined ? { resolve_reason: review.reason } : {};
  return { ...request, spec: { ...request.spec, reviews, state, ...decided } };
}

/**
 * The request set to APPROVED or DENIED by an administrator (`tctl request approve|deny`), with `roles` narrowing an
 * approval to a subset of the requested roles.
 *
 * @throws AccessDeniedError when the request is no longer pending; BadParameterError for roles not requested.
 */
export function withState(request: AccessRequest, state: 'APPROVED' | 'DENIED', options: { reason?: string; roles?: readonly string[] } = {}): AccessRequest {
  if (request.spec.state !== 'PENDING') throw new AccessDeniedError(`access request ${request.metadata.name} is already ${request.spec.state.toLowerCase()}`);
  const roles = options.roles?.length ? options.roles : request.spec.roles;
  const extra = roles.find((r) => !request.spec.roles.includes(r));
  if (extra !== undefined) throw new BadParameterError(`role ${q(extra)} was not requested`);
  return { ...request, spec: { ...request.spec, state, roles: [...roles], ...(options.reason ? { resolve_reason: options.reason } : {}) } };
}

// ---- threshold filters --------------------------------------------------------------------------------------------

/** What a filter reads: `reviewer.roles`, `reviewer.traits["k"]`. */
interface FilterSubject {
  roles: readonly string[];
  traits: Traits;
}

type Value = string | readonly string[] | boolean;

const TOKEN = /\s*(\|\||&&|!|\(|\)|,|"(?:[^"\\]|\\.)*"|reviewer\.roles|reviewer\.traits\["(?:[^"\\]|\\.)*"\]|[a-z_]+)/y;

function tokenize(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (m === null) {
      if (text.slice(start).trim() === '') break;
      throw new BadParameterError(`invalid threshold filter at ${start}`);
    }
    out.push(m[1]!);
  }
  return out;
}

/**
 * Evaluates a threshold filter in the subset of Teleport's predicate language reviews use: `contains(list, "x")`,
 * `equals(a, b)`, `!`, `&&`, `||` and parentheses over `reviewer.roles` and `reviewer.traits["name"]`.
 *
 * @example
 * ```ts
 * evaluateReviewFilter('contains(reviewer.roles, "dba") || contains(reviewer.traits["team"], "sre")', { roles: ['dba'], traits: {} }); // true
 * ```
 *
 * @throws BadParameterError for anything outside that subset.
 */
export function evaluateReviewFilter(filter: string, subject: FilterSubject): boolean {
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (want?: string): string => {
    const t = tokens[pos++];
    if (t === undefined || (want !== undefined && t !== want)) throw new BadParameterError(`invalid threshold filter: expected ${want ?? 'more'}`);
    return t;
  };
  const operand = (): Value => {
    const t = take();
    if (t === 'reviewer.roles') return subject.roles;
    if (t.startsWith('reviewer.traits[')) return subject.traits[JSON.parse(t.slice(16, -1)) as string] ?? [];
    if (t.startsWith('"')) return JSON.parse(t) as string;
    if (t === 'contains' || t === 'equals') {
      take('(');
      const a = operand();
      take(',');
      const b = operand();
      take(')');
      if (t === 'contains') return Array.isArray(a) && typeof b === 'string' && a.includes(b);
      return JSON.stringify(a) === JSON.stringify(b);
    }
    if (t === '!') return !bool(operand());
    if (t === '(') {
      const inner = or();
      take(')');
      return inner;
    }
    throw new BadParameterError('invalid threshold filter: unknown term');
  };
  const bool = (x: Value): boolean => {
    if (typeof x !== 'boolean') throw new BadParameterError('invalid threshold filter: not a condition');
    return x;
  };
  const and = (): boolean => {
    let value = bool(operand());
    while (peek() === '&&') {
      take();
      value = bool(operand()) && value;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (peek() === '||') {
      take();
      value = and() || value;
    }
    return value;
  };
  const result = or();
  if (pos !== tokens.length) throw new BadParameterError('invalid threshold filter: unexpected text at the end');
  return result;
}
