/**
 * Access requests (Teleport's `kind: access_request`, v3): a user asks for roles (role requests) or for named
 * resources (resource requests, `/<cluster>/db/<name>`) for a while; reviewers approve or deny; once approved the user's
 * certificates carry the roles (and the resource restriction) until the access expiry.
 */

import { BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, isRecord, optString, optTimestamp, section, stringList } from './validate.js';

export const KIND_ACCESS_REQUEST = 'access_request';
const ACCESS_REQUEST_VERSIONS = ['v3'] as const;
type AccessRequestVersion = (typeof ACCESS_REQUEST_VERSIONS)[number];

/** PENDING until decided; APPROVED and DENIED are final (an approved request still ends at its access expiry). */
export const ACCESS_REQUEST_STATES = ['PENDING', 'APPROVED', 'DENIED'] as const;
export type AccessRequestState = (typeof ACCESS_REQUEST_STATES)[number];

/** What a reviewer may say. */
export const REVIEW_STATES = ['APPROVED', 'DENIED'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

/** One review: who, with which roles (thresholds filter on them), what, why, when. */
export interface AccessReview {
  readonly author: string;
  readonly roles: readonly string[];
  readonly state: ReviewState;
  readonly reason?: string;
  readonly created: string;
}

/** A threshold copied from the requester's roles when the request is made (see `AccessReviewThreshold`). */
export interface RequestThreshold {
  readonly name?: string;
  readonly filter?: string;
  readonly approve: number;
  readonly deny: number;
}

export interface AccessRequestSpec {
  readonly user: string;
  /** The roles the request grants once approved. */
  readonly roles: readonly string[];
  /** Resource requests: `/<cluster>/db/<name>`; certificates of an approved request reach only these. */
  readonly resources: readonly string[];
  readonly state: AccessRequestState;
  readonly request_reason?: string;
  readonly resolve_reason?: string;
  readonly suggested_reviewers: readonly string[];
  readonly created: string;
  /** The access expiry: certificates issued with this request never outlive it. */
  readonly expires: string;
  readonly reviews: readonly AccessReview[];
  readonly thresholds: readonly RequestThreshold[];
  /** For each requested role, the indices into `thresholds` that may decide it (one met suffices for that role). */
  readonly role_thresholds: Readonly<Record<string, readonly number[]>>;
}

/** An access request, parsed by {@link parseAccessRequest}; `metadata.name` is its id, `metadata.expires` when the pending request lapses. */
export type AccessRequest = ResourceHeader<typeof KIND_ACCESS_REQUEST, AccessRequestVersion, AccessRequestSpec>;

function oneOf<T extends string>(allowed: readonly T[]) {
  return v.pipe(v.string(), v.check((x) => (allowed as readonly string[]).includes(x), `must be one of ${allowed.join(', ')}`), v.transform((x) => x as T));
}

const timestamp = v.pipe(
  v.unknown(),
  v.check((x) => x !== undefined && x !== null, 'is required'),
  optTimestamp,
  v.transform((x): string => x ?? ''),
);

const count = v.pipe(v.number('must be a whole number'), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'));

const ReviewSchema = section({
  author: v.string('must be a user name'),
  roles: stringList,
  state: oneOf(REVIEW_STATES),
  reason: optString,
  created: timestamp,
});

const ThresholdSchema = section({ name: optString, filter: optString, approve: count, deny: count });

const AccessRequestDocument = section({
  ...headerEntries(KIND_ACCESS_REQUEST, ACCESS_REQUEST_VERSIONS, 'v3'),
  spec: section({
    user: v.pipe(v.string('must be a user name'), v.minLength(1, 'must be a user name')),
    roles: stringList,
    resources: stringList,
    state: oneOf(ACCESS_REQUEST_STATES),
    request_reason: optString,
    resolve_reason: optString,
    suggested_reviewers: stringList,
    created: timestamp,
    expires: timestamp,
    reviews: v.optional(v.array(ReviewSchema, 'must be a list of reviews'), []),
    thresholds: v.optional(v.array(ThresholdSchema, 'must be a list of thresholds'), []),
    role_thresholds: v.optional(v.record(v.string(), v.array(v.number())), {}),
  }),
});

/** The entries that are set (not absent, null or empty). */
const drop = (o: Record<string, string | null | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== null && e[1] !== ''));

/**
 * Parses an access request document (as stored, or as the API sends it) and returns it frozen.
 *
 * @example
 * ```ts
 * const req = parseAccessRequest({ kind: 'access_request', metadata: { name: id }, spec: { user: 'bob', roles: ['dba'], state: 'PENDING', created, expires } });
 * ```
 *
 * @throws BadParameterError naming the field.
 */
export function parseAccessRequest(raw: unknown): AccessRequest {
  if (!isRecord(raw)) throw new BadParameterError('access request must be a mapping');
  const name = resourceName(raw, { kind: KIND_ACCESS_REQUEST });
  const doc = parseWith(AccessRequestDocument, raw, `access request ${JSON.stringify(name)}`);
  const s = doc.spec;
  if (s.roles.length === 0 && s.resources.length === 0) throw new BadParameterError(`access request ${JSON.stringify(name)}: spec.roles must name at least one role`);
  return deepFreeze({
    kind: KIND_ACCESS_REQUEST,
    version: doc.version,
    metadata: toMetadata(name, doc.metadata),
    spec: {
      ...drop({ request_reason: s.request_reason, resolve_reason: s.resolve_reason }),
      user: s.user,
      roles: s.roles,
      resources: s.resources,
      state: s.state,
      suggested_reviewers: s.suggested_reviewers,
      created: s.created,
      expires: s.expires,
      reviews: s.reviews.map((r) => ({ ...drop({ reason: r.reason }), author: r.author, roles: r.roles, state: r.state, created: r.created })),
      thresholds: s.thresholds.map((t) => ({ ...drop({ name: t.name, filter: t.filter }), approve: t.approve, deny: t.deny })),
      role_thresholds: s.role_thresholds,
    },
  });
}

/** The plain-data form of an access request, as the API sends it and `tctl request get` prints it. */
export function accessRequestToWire(req: AccessRequest): Record<string, unknown> {
  const s = req.spec;
  return {
    kind: req.kind,
    version: req.version,
    metadata: { ...req.metadata },
    spec: {
      ...s,
      roles: [...s.roles],
      resources: [...s.resources],
      suggested_reviewers: [...s.suggested_reviewers],
      reviews: s.reviews.map((r) => ({ ...r, roles: [...r.roles] })),
      thresholds: s.thresholds.map((t) => ({ ...t })),
      role_thresholds: Object.fromEntries(Object.entries(s.role_thresholds).map(([k, x]) => [k, [...x]])),
    },
  };
}

/** `/<cluster>/db/<name>`: the resource ids requests name (Teleport's `ResourceIDToString`). */
const RESOURCE_ID = /^\/([^/]+)\/(db|node)\/([^/]+)$/;

/**
 * Parses a resource id such as `/example.com/db/roach`.
 *
 * @throws BadParameterError for anything else.
 */
export function parseResourceId(text: string): { cluster: string; kind: 'db' | 'node'; name: string } {
  const m = RESOURCE_ID.exec(text);
  if (m === null) throw new BadParameterError(`invalid resource id ${JSON.stringify(text.slice(0, 128))}`, { hint: 'use /<cluster>/db/<name>' });
  return { cluster: m[1]!, kind: m[2] as 'db' | 'node', name: m[3]! };
}
