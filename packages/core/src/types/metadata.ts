import { BadParameterError } from '../errors/index.js';
import { v } from '../schema/index.js';
import { isRecord, kindField, optString, optTimestamp, problem, quote, section, versionField } from './validate.js';

/** Teleport's resource metadata. Timestamps are ISO 8601 UTC strings. */
export interface Metadata {
  readonly name: string;
  readonly description?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** When the resource stops existing (the backend hides it from then on). */
  readonly expires?: string;
  /** Opaque backend revision, set by the store on reads; ignored on writes. */
  readonly revision?: string;
}

/** The envelope every resource shares. */
export interface ResourceHeader<K extends string, V extends string, S> {
  readonly kind: K;
  readonly version: V;
  readonly metadata: Metadata;
  readonly spec: S;
}

/** Longest resource name accepted. */
export const MAX_NAME_LENGTH = 255;

// Control characters, and `/`, which separates backend key segments (`/web/users/<name>/params`).
const FORBIDDEN_NAME_CHARS = /[\u0000-\u001f\u007f/]/;

export interface MetadataOptions {
  /** Resource kind, for messages. */
  kind: string;
  /** The name is a secret (a join token): messages never quote it. */
  secretName?: boolean;
  /** Name to use when the document has none (singletons such as `cluster-auth-preference`). */
  defaultName?: string;
}

/** The name of a resource document, checked, so the caller can build its message prefix from it. */
export function resourceName(raw: Record<string, unknown>, options: MetadataOptions): string {
  const meta = raw['metadata'];
  const prefix = options.kind;
  if (meta !== undefined && meta !== null && !isRecord(meta)) throw new BadParameterError(`${prefix}: metadata must be a mapping`);
  const name = isRecord(meta) ? meta['name'] : undefined;
  if (name === undefined || name === null || name === '') {
    if (options.defaultName !== undefined) return options.defaultName;
    throw new BadParameterError(`${prefix}: metadata.name is required`);
  }
  if (typeof name !== 'string') throw new BadParameterError(`${prefix}: metadata.name must be a string`);
  const shown = options.secretName ? '' : ` ${JSON.stringify(name.slice(0, MAX_NAME_LENGTH))}`;
  if (name.length > MAX_NAME_LENGTH) throw new BadParameterError(`${prefix}: metadata.name${shown} is longer than ${MAX_NAME_LENGTH} characters`);
  if (FORBIDDEN_NAME_CHARS.test(name) || name.trim() !== name) {
    throw new BadParameterError(`${prefix}: metadata.name${shown} must not contain "/", control characters or surrounding spaces`);
  }
  return name;
}

/** The first problem of `metadata.labels` (a mapping of strings), or `undefined`. */
function labelsProblem(labels: Record<string, unknown>): string | undefined {
  const bad = Object.entries(labels).find(([, value]) => typeof value !== 'string');
  return bad === undefined ? undefined : `[${quote(bad[0])}] must be a string`;
}

/**
 * `metadata` (its name is checked first, by {@link resourceName}, so messages can name the resource). `namespace` and
 * `id` appear in exports from older Teleport versions; both are meaningless here.
 */
const MetadataSchema = section(
  {
    name: v.optional(v.unknown()),
    description: optString,
    labels: v.nullish(v.pipe(v.custom<Record<string, unknown>>(isRecord, 'must be a mapping of strings'), problem(labelsProblem))),
    expires: optTimestamp,
    revision: optString,
  },
  { ignored: ['namespace', 'id'] },
);

/** The metadata a parser returns: the checked name, and the other fields when they say something. */
export function toMetadata(name: string, meta: v.InferOutput<typeof MetadataSchema>): Metadata {
  const out: { -readonly [K in keyof Metadata]: Metadata[K] } = { name };
  if (meta.description !== undefined && meta.description !== null && meta.description !== '') out.description = meta.description;
  const labels = meta.labels as Record<string, string> | null | undefined;
  if (labels && Object.keys(labels).length > 0) out.labels = { ...labels };
  if (meta.expires !== undefined && meta.expires !== null) out.expires = meta.expires;
  if (meta.revision !== undefined && meta.revision !== null && meta.revision !== '') out.revision = meta.revision;
  return out;
}

const METADATA_FIELDS = new Set(['name', 'description', 'labels', 'expires', 'revision']);
/** `Date.prototype.toISOString` form with a day every month has: such a string is its own normal form. */
const ISO_TIME_PLAIN = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
/** The first time {@link toMetadata} keeps (it drops Go's zero time); strings of one form compare as times. */
const FIRST_TIME_KEPT = '0001-01-01T00:00:00.001Z';

/** Whether `expires` is exactly how {@link toMetadata} writes it (`toISOString` of a time after year 1). */
function isCanonicalTime(expires: unknown): boolean {
  if (typeof expires !== 'string' || expires < FIRST_TIME_KEPT) return false;
  if (ISO_TIME_PLAIN.test(expires)) return true;
  const ms = Date.parse(expires);
  return Number.isFinite(ms) && new Date(ms).toISOString() === expires;
}

/** A mapping whose every value is a string (also the empty mapping). */
export function isStringRecord(x: unknown): x is Record<string, string> {
  if (!isRecord(x)) return false;
  for (const k in x) if (typeof x[k] !== 'string') return false;
  return true;
}

/**
 * Whether `meta` is metadata exactly as {@link toMetadata} returns it (a valid name, no empty optional field, labels
 * of strings, `expires` in `toISOString` form, no other field): what a parser would give back unchanged. For the
 * listings' fast path (`parseListedNode`); anything else goes through the full parser.
 */
export function isCanonicalMetadata(meta: unknown): meta is Metadata {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return false;
  const m = meta as Record<string, unknown>;
  for (const k in m) if (!METADATA_FIELDS.has(k)) return false;
  const name = m['name'];
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH || FORBIDDEN_NAME_CHARS.test(name) || name.trim() !== name) return false;
  const description = m['description'];
  if (description !== undefined && (typeof description !== 'string' || description === '')) return false;
  const labels = m['labels'];
  if (labels !== undefined && (!isStringRecord(labels) || Object.keys(labels).length === 0)) return false;
  const expires = m['expires'];
  if (expires !== undefined && !isCanonicalTime(expires)) return false;
  const revision = m['revision'];
  return revision === undefined || (typeof revision === 'string' && revision !== '');
}

/** The envelope's entries of a resource schema: `kind`, `version` (filled when absent) and `metadata`. */
export function headerEntries<V extends string>(kind: string, versions: readonly V[], defaultVersion: V) {
  return { kind: kindField(kind), version: versionField(versions, defaultVersion), metadata: MetadataSchema };
}
