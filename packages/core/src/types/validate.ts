import { BadParameterError } from '../errors/index.js';

/**
 * Shared parse helpers for resources. Every failure is a {@link BadParameterError} with one line that
 * names the resource and the field (`role "dev": spec.allow.logins must be a list of strings`). Values
 * a user typed are quoted with `JSON.stringify`, never interpolated raw, and secrets (a token's name)
 * never appear: the caller chooses the prefix.
 */
export interface ParseContext {
  /** What the message starts with: `role "dev"`, `user "alice"`, `token`. */
  readonly prefix: string;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export function fail(ctx: ParseContext, field: string, what: string): never {
  throw new BadParameterError(`${ctx.prefix}: ${field} ${what}`);
}

/** A mapping, or `{}` when absent (`null` counts as absent, as YAML writes `key:` for it). */
export function optRecord(ctx: ParseContext, v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) fail(ctx, field, 'must be a mapping');
  return v;
}

export function optString(ctx: ParseContext, v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(ctx, field, 'must be a string');
  return v;
}

export function optBool(ctx: ParseContext, v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') fail(ctx, field, 'must be true or false');
  return v;
}

/** A list of strings, or `[]` when absent. Duplicates are dropped, order kept. */
export function stringList(ctx: ParseContext, v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(ctx, field, 'must be a list of strings');
  return [...new Set(v as string[])];
}

/** `0001-01-01T00:00:00Z`, Go's zero `time.Time`, which Teleport writes for "never". */
const GO_ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

/** An RFC 3339 timestamp (or a YAML 1.1 timestamp already turned into a Date), normalized to ISO 8601 UTC. */
export function optTimestamp(ctx: ParseContext, v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) fail(ctx, field, 'must be an RFC 3339 timestamp such as "2030-01-31T12:00:00Z"');
  if (ms <= GO_ZERO_TIME_MS) return undefined;
  return new Date(ms).toISOString();
}

/**
 * Rejects keys outside `known`. Keys in `ignored` are Teleport fields that mean nothing in this
 * implementation (for services it does not run); they are accepted and dropped so that a resource
 * exported from Teleport still loads.
 */
export function checkKeys(
  ctx: ParseContext,
  obj: Record<string, unknown>,
  field: string,
  known: readonly string[],
  ignored: readonly string[] = [],
): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key) || ignored.includes(key)) continue;
    const where = field === '' ? key : `${field}.${key}`;
    fail(ctx, where, 'is not a known field');
  }
}

/** Freezes an object graph built by the parsers (plain objects and arrays only). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Ignored Teleport fields that tighten security when set: accepted only at a value that changes
 * nothing, refused otherwise, because silently dropping them would grant more than the author meant.
 */
export function checkInertValues(
  ctx: ParseContext,
  obj: Record<string, unknown>,
  field: string,
  inert: Readonly<Record<string, (v: unknown) => boolean>>,
): void {
  for (const [key, isInert] of Object.entries(inert)) {
    const v = obj[key];
    if (v === undefined || v === null || isInert(v)) continue;
    fail(ctx, `${field}.${key}`, `is not supported by this implementation (only its default value is accepted)`);
  }
}

const MAX_QUOTED = 128;

/** A user-supplied name for a message: JSON-quoted, cut at 128 characters so a message stays one short line. */
export function quote(s: string): string {
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}
