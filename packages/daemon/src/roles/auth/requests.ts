/**
 * The auth API's request bodies, one valibot schema per route: every field is checked once, at the edge, with
 * one-line bad-parameter messages that name the field (`missing parameter user`, `ttl must be at most 48h`). Values
 * that may be secrets are never quoted. Unknown fields are dropped, so older and newer clients keep working.
 *
 * @example
 * ```ts
 * const body = parseBody(UserTokenBody, rawBody); // { tokenId: string }, or BadParameterError
 * ```
 */

import { isIP } from 'node:net';
import { MESSAGE_ONLY, parseWith, v } from '@teleport-ts/core/schema';
import { formatDurationShort, MAX_TTL_MS } from '@teleport-ts/core/types';

const HOUR = 3_600_000;

/** Longest string field accepted (certificates and keys are a few KiB). */
const MAX_FIELD_LENGTH = 64 * 1024;
const MAX_LIST_LENGTH = 1024;
const MAX_LIST_ITEM_LENGTH = 1024;

/** An upper bound of a duration field, and how a message writes it. */
interface DurationLimit {
  readonly ms: number;
  readonly text: string;
}

/** Teleport's `defaults.SignupTokenTTL` and `MaxSignupTokenTTL`. */
export const INVITE_TOKEN_TTL = { default: HOUR, max: { ms: 48 * HOUR, text: '48h' } };
/** Teleport's `defaults.ChangePasswordTokenTTL` and `MaxChangePasswordTokenTTL`. */
export const RESET_TOKEN_TTL = { default: 8 * HOUR, max: { ms: 24 * HOUR, text: '24h' } };
/** The longest `db_server` heartbeat TTL. */
const MAX_DB_SERVER_TTL: DurationLimit = { ms: 10 * 60_000, text: '10m' };
/** A `db_server` heartbeat shorter than this would expire between two beats. */
const MIN_DB_SERVER_TTL_MS = 1000;
/** The longest client certificate a db agent may ask for. */
const MAX_DB_CLIENT_CERT_TTL: DurationLimit = { ms: 24 * HOUR, text: '24h' };
/** Most events one `emitAuditEvents` call may carry (the 1 MiB body limit applies too): a busy db agent sends one request per 1000 statements rather than per 100 (docs/benchmarks.md, "Database path speed"). */
const MAX_EMITTED_EVENTS = 1000;

const isJsonObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A JSON object with these fields (absent or `null` reads as `{}`), as a body or a nested object. */
function object<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(v.nullish(v.custom<Record<string, unknown>>(isJsonObject, 'request body must be a JSON object'), {}), v.object(entries));
}

/** An optional field: absent and `null` both read as `undefined`. */
function opt<S extends v.GenericSchema>(schema: S) {
  return v.pipe(v.nullish(schema), v.transform((x) => x ?? undefined));
}

/**
 * Any value, its checks run even when the key is absent (as `null`), so a required field is refused with its own
 * message rather than a generic one.
 */
const always = () => v.nullish(v.unknown(), null);

/** A required non-empty string, at most 64 KiB. */
function reqString(field: string) {
  return v.pipe(
    v.nullish(v.unknown(), ''),
    v.check((x) => typeof x === 'string' && x !== '', `missing parameter ${field}`),
    v.check((x) => (x as string).length <= MAX_FIELD_LENGTH, `${field} is too long`),
    v.transform((x) => x as string),
  );
}

/** An optional string: absent, `null` and `''` read as `undefined`; otherwise as {@link reqString}. */
function optString(field: string) {
  return v.optional(
    v.pipe(
      v.unknown(),
      v.transform((x) => (x === null || x === '' ? undefined : x)),
      v.check((x) => x === undefined || typeof x === 'string', `missing parameter ${field}`),
      v.check((x) => x === undefined || (x as string).length <= MAX_FIELD_LENGTH, `${field} is too long`),
      v.transform((x) => x as string | undefined),
    ),
  );
}

/** An optional list of strings (at most 1024, each at most 1024 characters). */
function optStringList(field: string) {
  return opt(
    v.pipe(
      v.unknown(),
      v.check(
        (x) => Array.isArray(x) && x.length <= MAX_LIST_LENGTH && x.every((s) => typeof s === 'string' && s.length <= MAX_LIST_ITEM_LENGTH),
        `${field} must be a list of strings`,
      ),
      v.transform((x) => x as string[]),
    ),
  );
}

function optBool(field: string) {
  return opt(v.boolean(`${field} must be true or false`));
}

/** The bound of every duration without a tighter one (core/types `MAX_TTL_MS`), so no lifetime leaves the date range. */
const MAX_TTL: DurationLimit = { ms: MAX_TTL_MS, text: formatDurationShort(MAX_TTL_MS) };

/** A duration in milliseconds: a positive finite number, at most `max` (default {@link MAX_TTL}). */
function optDurationMs(field: string, max: DurationLimit = MAX_TTL) {
  return opt(
    v.pipe(
      v.unknown(),
      v.check((x) => typeof x === 'number' && Number.isFinite(x) && x > 0, `${field} must be a positive duration in milliseconds`),
      v.transform((x) => x as number),
      v.check((n) => n <= max.ms, `${field} must be at most ${max.text}`),
    ),
  );
}

/** Letters, digits, `.`, `_`, `-`: what becomes part of a certificate or key. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A required identifier that becomes part of a certificate or key. */
function reqName(field: string) {
  return v.pipe(
    reqString(field),
    v.check((s) => NAME.test(s), (issue) => `${field} ${JSON.stringify(String(issue.input).slice(0, 128))} must be letters, digits, ".", "_" or "-"`),
  );
}

/** `IP:port` or `[IPv6]:port`. */
function isIpPort(text: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3] ?? 0);
  const family = isIP(host);
  return m !== null && family !== 0 && (m[1] !== undefined) === (family === 6) && port >= 1 && port <= 65535;
}

/** An optional `IP:port` (`[IPv6]:port`) address, such as a proxy reports for its client. */
function optIpPort(field: string) {
  return v.pipe(
    optString(field),
    v.check(
      (s) => s === undefined || isIpPort(s),
      `${field} must be an IP address and a port, such as 203.0.113.7:51234 or [2001:db8::7]:51234`,
    ),
  );
}

/** Teleport's `types.IsValidLabelKey`. */
const LABEL_KEY = /^[a-zA-Z/.0-9_:*-]{1,256}$/;
const MAX_LABELS = 64;

/** The first problem of a label mapping, as a message, or `undefined`. */
function labelsProblem(field: string, labels: Record<string, unknown>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `${field}: at most ${MAX_LABELS} labels are allowed`;
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) return `${field}: invalid label key ${JSON.stringify(key.slice(0, 64))}`;
    if (typeof value !== 'string' || value.length > 1024) return `${field}[${JSON.stringify(key)}] must be a string`;
  }
  return undefined;
}

/** Resource labels: a mapping of label key (Teleport's characters) to a string value. */
function optLabels(field: string) {
  return opt(
    v.pipe(
      v.custom<Record<string, unknown>>(isJsonObject, `${field} must be a mapping of label names to values`),
      v.rawCheck(({ dataset, addIssue }) => {
        const problem = dataset.typed ? labelsProblem(field, dataset.value) : undefined;
        if (problem !== undefined) addIssue({ message: problem });
      }),
      v.transform((x) => x as Record<string, string>),
    ),
  );
}

/**
 * Parses a request body with its route's schema: the typed body, or one {@link BadParameterError} line naming the
 * field.
 */
export function parseBody<S extends v.GenericSchema>(schema: S, rawBody: unknown): v.InferOutput<S> {
  return parseWith(schema, rawBody, MESSAGE_ONLY);
}

// ---- users ----

/** `POST /users`: a user with roles, traits and metadata, and its invite link. */
export const CreateUserBody = object({
  name: reqString('name'),
  roles: optStringList('roles'),
  invite: optBool('invite'),
  ttl: optDurationMs('ttl', INVITE_TOKEN_TTL.max),
  labels: optLabels('labels'),
  description: optString('description'),
  expires: optString('expires'),
  traits: opt(v.custom<Record<string, unknown>>(isJsonObject, 'traits must be a mapping of lists')),
  logins: optStringList('logins'),
  dbUsers: optStringList('dbUsers'),
  dbNames: optStringList('dbNames'),
});

/** A password reset link's lifetime. */
export const ResetPasswordTokenBody = object({ ttl: optDurationMs('ttl', RESET_TOKEN_TTL.max) });

/** An invite or reset link, by its id. */
export const UserTokenBody = object({ tokenId: reqString('tokenId') });

/** The password (and OTP code) set through a link. */
export const CompleteUserTokenBody = object({
  tokenId: reqString('tokenId'),
  password: v.pipe(always(), v.check((x) => typeof x === 'string', 'missing parameter password'), v.transform((x) => x as string)),
  otpCode: optString('otpCode'),
});

// ---- databases ----

/** A db agent's heartbeat for one database. */
export const UpsertDatabaseServerBody = object({
  hostId: reqName('hostId'),
  database: object({
    name: reqName('name'),
    protocol: reqString('protocol'),
    uri: v.pipe(reqString('uri'), v.check((s) => s.length <= 1024, 'database.uri is too long')),
    description: v.pipe(optString('description'), v.check((s) => s === undefined || s.length <= 1024, 'database.description is too long')),
    labels: v.optional(v.unknown()),
  }),
  ttl: v.pipe(optDurationMs('ttl', MAX_DB_SERVER_TTL), v.check((n) => n === undefined || n >= MIN_DB_SERVER_TTL_MS, 'ttl must be at least 1s')),
  hostname: reqName('hostname'),
  version: optString('version'),
  proxyIds: v.pipe(optStringList('proxyIds'), v.check((l) => l === undefined || l.length <= 64, 'proxyIds may list at most 64 proxies')),
});

/** A proxy's heartbeat of itself. */
export const UpsertProxyBody = object({
  name: reqName('name'),
  hostname: reqName('hostname'),
  publicAddr: v.pipe(reqString('publicAddr'), v.check((s) => s.length <= 1024, 'publicAddr is too long')),
  peerAddr: v.pipe(optString('peerAddr'), v.check((s) => s === undefined || s.length <= 1024, 'peerAddr is too long')),
  version: optString('version'),
  ttl: v.pipe(optDurationMs('ttl', MAX_DB_SERVER_TTL), v.check((n) => n === undefined || n >= MIN_DB_SERVER_TTL_MS, 'ttl must be at least 1s')),
});

/** Audit events a service emits (each checked by the route). */
export const EmitAuditEventsBody = object({
  events: v.pipe(
    always(),
    v.check((x) => Array.isArray(x), 'events must be a list'),
    v.transform((x) => x as unknown[]),
    v.check((list) => list.length <= MAX_EMITTED_EVENTS, `at most ${MAX_EMITTED_EVENTS} events per request`),
  ),
});

// ---- certificates ----

/** The database a user certificate routes to. */
const RouteToDatabaseBody = opt(
  object({
    serviceName: reqName('serviceName'),
    protocol: reqName('protocol'),
    username: optString('username'),
    database: optString('database'),
  }),
);

/** User certificates: the keys to certify, their lifetime and an optional database route. */
const USER_CERTS_FIELDS = {
  /** Access requests to use: absent keeps those of the caller's certificate, `[]` drops them. */
  accessRequests: optStringList('accessRequests'),
  sshPublicKey: reqString('sshPublicKey'),
  tlsPublicKey: reqString('tlsPublicKey'),
  ttl: optDurationMs('ttl'),
  routeToDatabase: RouteToDatabaseBody,
  user: reqString('user'),
};
export const UserCertsBody = object(USER_CERTS_FIELDS);

/** A parsed {@link UserCertsBody}. */
export type ParsedUserCertsBody = v.InferOutput<typeof UserCertsBody>;

/** The proxy's login: user certificates plus the password, the OTP code and the end user's address. */
export const AuthenticateUserBody = object({
  ...USER_CERTS_FIELDS,
  password: v.pipe(always(), v.transform((x) => (typeof x === 'string' ? x : ''))),
  otp: optString('otp'),
  clientAddr: optIpPort('clientAddr'),
});

/** A database server certificate. */
export const DatabaseCertBody = object({
  publicKey: reqString('publicKey'),
  hosts: optStringList('hosts'),
  ttl: optDurationMs('ttl'),
  clientAuth: optBool('clientAuth'),
});

/** A client certificate a db agent presents to a database. */
export const DatabaseClientCertBody = object({
  ttl: optDurationMs('ttl', MAX_DB_CLIENT_CERT_TTL),
  dbUser: reqString('dbUser'),
  publicKey: reqString('publicKey'),
});

/** An OpenSSH host certificate. */
export const HostCertBody = object({
  sshPublicKey: reqString('sshPublicKey'),
  principals: optStringList('principals'),
  ttl: optDurationMs('ttl'),
});

/** A certificate from the `openssh` CA for an agentless node (the proxy asks, with the user's certificate). */
export const OpenSshCertBody = object({
  userCert: reqString('userCert'),
  login: reqString('login'),
  sshPublicKey: reqString('sshPublicKey'),
});

/** An agent's join: the token (a secret, never quoted), who it is and the keys to certify. */
export const RegisterUsingTokenBody = object({
  token: v.pipe(
    always(),
    v.check((x) => typeof x === 'string' && x !== '' && x.length <= 1024, 'missing parameter token'),
    v.transform((x) => x as string),
  ),
  hostId: reqName('hostId'),
  nodeName: reqName('nodeName'),
  role: reqString('role'),
  additionalPrincipals: optStringList('additionalPrincipals'),
  tlsPublicKey: reqString('tlsPublicKey'),
  sshPublicKey: reqString('sshPublicKey'),
});

// ---- resources ----

/** A join token: roles (a string or a list, checked by the route, whose refusal has a hint), lifetime, name and labels. */
export const CreateTokenBody = object({
  roles: v.optional(v.unknown()),
  ttl: optDurationMs('ttl'),
  name: optString('name'),
  labels: optLabels('labels'),
});

/** A join token to delete, by name. */
export const DeleteTokenBody = object({
  name: v.pipe(
    always(),
    v.check((x) => typeof x === 'string' && x !== '', 'missing parameter name'),
    v.transform((x) => x as string),
  ),
});

/** A CA rotation: which CA, to which phase, how, and the grace period. */
export const RotateCertAuthorityBody = object({
  type: optString('type'),
  phase: optString('phase'),
  mode: optString('mode'),
  gracePeriod: optDurationMs('gracePeriod'),
});

// ---- access requests ----

/** The longest access a request may ask for (Teleport's `MaxAccessDuration`: a week). */
const MAX_ACCESS_DURATION: DurationLimit = { ms: 7 * 24 * HOUR, text: '168h' };
const MAX_REASON_LENGTH = 4096;

function optReason(field: string) {
  return v.pipe(optString(field), v.check((s) => s === undefined || s.length <= MAX_REASON_LENGTH, `${field} must be at most ${MAX_REASON_LENGTH} characters`));
}

/** A new access request: roles or resource ids, the reason, suggested reviewers, and how long the access may last. */
export const CreateAccessRequestBody = object({
  user: optString('user'),
  roles: optStringList('roles'),
  resources: optStringList('resources'),
  reason: optReason('reason'),
  suggestedReviewers: optStringList('suggestedReviewers'),
  maxDuration: optDurationMs('maxDuration', MAX_ACCESS_DURATION),
});

const reviewState = v.pipe(
  always(),
  v.check((x) => x === 'APPROVED' || x === 'DENIED', 'state must be APPROVED or DENIED'),
  v.transform((x) => x as 'APPROVED' | 'DENIED'),
);

/** A review: approve or deny, and why. */
export const ReviewAccessRequestBody = object({ state: reviewState, reason: optReason('reason') });

/** An administrator's decision, optionally approving a subset of the roles. */
export const SetAccessRequestStateBody = object({ state: reviewState, reason: optReason('reason'), roles: optStringList('roles') });

// ---- nodes ----

/** A node's registration: the node (validated by `parseNode`) and, for a heartbeat, how long it stays listed. */
export const UpsertNodeBody = object({
  node: v.pipe(always(), v.check(isJsonObject, 'node must be a mapping')),
  ttl: v.pipe(optDurationMs('ttl', MAX_DB_SERVER_TTL), v.check((n) => n === undefined || n >= MIN_DB_SERVER_TTL_MS, 'ttl must be at least 1s')),
});

// ---- host identities ----

/** A host asking for new certificates for itself (renewal, CA rotation): new public keys, its names. */
export const ReissueHostCertsBody = object({
  nodeName: reqName('nodeName'),
  additionalPrincipals: optStringList('additionalPrincipals'),
  tlsPublicKey: reqString('tlsPublicKey'),
  sshPublicKey: reqString('sshPublicKey'),
});

/** The rotation of one CA a process has caught up with. */
const RotationSeenBody = opt(object({ current_id: optString('current_id'), phase: reqName('phase') }));

/** A process's report of the identity it runs with (which rotation of the host and user CAs it caught up with). */
export const UpsertInstanceBody = object({
  hostname: reqName('hostname'),
  role: reqName('role'),
  host: RotationSeenBody,
  user: RotationSeenBody,
  ttl: v.pipe(optDurationMs('ttl', MAX_DB_SERVER_TTL), v.check((n) => n === undefined || n >= MIN_DB_SERVER_TTL_MS, 'ttl must be at least 1s')),
});
