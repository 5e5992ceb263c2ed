/**
 * The resource schemas' building blocks, on the schema layer (`../schema`). Every failure is a
 * {@link BadParameterError} with one line that names the resource and the field (`role "dev": spec.allow.logins must
 * be a list of strings`). Values a user typed are quoted with `JSON.stringify`, never interpolated raw, and secrets (a
 * token's name) never appear: the caller chooses the prefix.
 *
 * Unknown fields are refused (`spec.allwo is not a known field`) before any value of their mapping is looked at, so
 * a typo is reported as a typo. Fields Teleport has but this implementation does not use are accepted and dropped,
 * so resources exported from Teleport load; those that would tighten security are accepted only at the value that
 * changes nothing.
 */

import { BadParameterError } from '../errors/index.js';
import { v } from '../schema/index.js';

/** The prefix of a resource's messages: `role "dev"`, `user "alice"`, `token`. */
export interface ParseContext {
  readonly prefix: string;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Date);
}

/** A refusal outside a schema (a check across fields), in the same format. */
export function fail(ctx: ParseContext, field: string, what: string): never {
  throw new BadParameterError(`${ctx.prefix}: ${field} ${what}`);
}

const MAX_QUOTED = 128;

/** A user-supplied name for a message: JSON-quoted, cut at 128 characters so a message stays one short line. */
export function quote(s: string): string {
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}

/** A check by a function returning the problem (`must ...`, `["key"] must ...`) or `undefined`. */
export function problem<T>(find: (value: T) => string | undefined) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const found = find(dataset.value);
    if (found !== undefined) addIssue({ message: found });
  });
}

const INERT_MESSAGE = 'is not supported by this implementation (only its default value is accepted)';

/** How a mapping treats keys beyond its entries. */
export interface SectionOptions {
  /** Teleport fields meaningless here: accepted and dropped. */
  readonly ignored?: readonly string[];
  /** Teleport fields that tighten security: accepted only where the predicate holds (or absent). */
  readonly inert?: Readonly<Record<string, (value: unknown) => boolean>>;
  /** The message when the value is not a mapping; default `must be a mapping`. */
  readonly message?: string;
}

/**
 * A mapping with these entries (absent or `null` reads as `{}`, so its defaults fill). Other keys are refused as
 * `is not a known field` before any entry is checked, except `ignored` and `inert` ones.
 */
export function section<const E extends v.ObjectEntries>(entries: E, options: SectionOptions = {}) {
  const inert = options.inert ?? {};
  const extra: v.ObjectEntries = {};
  for (const key of options.ignored ?? []) extra[key] = v.optional(v.unknown());
  for (const [key, isInert] of Object.entries(inert)) {
    extra[key] = v.optional(v.pipe(v.unknown(), v.check((x) => x === undefined || x === null || isInert(x), INERT_MESSAGE)));
  }
  const known = new Set([...Object.keys(entries), ...Object.keys(extra)]);
  return v.pipe(
    v.nullish(v.custom<Record<string, unknown>>(isRecord, options.message ?? 'must be a mapping'), {}),
    v.rawCheck<Record<string, unknown>>(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const input = dataset.value;
      const unknownKey = Object.keys(input).find((key) => !known.has(key));
      if (unknownKey === undefined) return;
      addIssue({ message: 'is not a known field', path: [{ type: 'object', origin: 'key', input, key: unknownKey, value: input[unknownKey] }] });
    }),
    v.strictObject({ ...extra, ...entries } as E),
  );
}

/** An optional string (`key:` with no value reads as absent). */
export const optString = v.nullish(v.string());

/** An optional boolean. */
export const optBool = v.nullish(v.boolean());

const isStringList = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** A list of strings, `[]` when absent. Duplicates are dropped, order kept. */
export const stringList = v.optional(
  v.pipe(
    v.unknown(),
    v.check((x) => x === null || isStringList(x), 'must be a list of strings'),
    v.transform((x) => [...new Set((x as string[] | null) ?? [])]),
  ),
  [],
);

/** `0001-01-01T00:00:00Z`, Go's zero `time.Time`, which Teleport writes for "never". */
const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

function timestampMs(x: unknown): number {
  return x instanceof Date ? x.getTime() : typeof x === 'string' ? Date.parse(x) : Number.NaN;
}

/** An RFC 3339 timestamp (or a YAML 1.1 timestamp already turned into a Date), as ISO 8601 UTC; Go's zero time reads as absent. */
export const optTimestamp = v.nullish(
  v.pipe(
    v.unknown(),
    v.check((x) => Number.isFinite(timestampMs(x)), 'must be an RFC 3339 timestamp such as "2030-01-31T12:00:00Z"'),
    v.transform((x) => {
      const ms = timestampMs(x);
      return ms <= GO_ZERO_TIME_MS ? undefined : new Date(ms).toISOString();
    }),
  ),
);

/** `kind`: absent, or exactly this kind. */
export function kindField(kind: string) {
  return v.nullish(
    v.pipe(
      v.unknown(),
      v.check((x) => x === kind, (issue) => `must be ${quote(kind)}, got ${quote(String(issue.input))}`),
    ),
  );
}

/** `version`: one of `versions`, `defaultVersion` when absent. */
export function versionField<V extends string>(versions: readonly V[], defaultVersion: V) {
  return v.pipe(
    v.nullish(v.unknown(), defaultVersion),
    v.check(
      (x) => typeof x === 'string' && (versions as readonly string[]).includes(x),
      (issue) => `${quote(String(issue.input))} is not supported, use ${versions.join(' or ')}`,
    ),
    v.transform((x) => x as V),
  );
}

/** Freezes an object graph built by the parsers (plain objects and arrays only). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
