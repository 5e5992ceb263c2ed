import { BadParameterError } from '../errors/index.js';
import { checkKeys, fail, isRecord, optString, optTimestamp, quote, type ParseContext } from './validate.js';

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

/** Validates `metadata` (the name must already have passed {@link resourceName}). */
export function parseMetadata(ctx: ParseContext, raw: unknown, name: string): Metadata {
  const meta = isRecord(raw) ? raw : {};
  // `namespace` and `id` appear in exports from older Teleport versions; both are meaningless here.
  checkKeys(ctx, meta, 'metadata', ['name', 'description', 'labels', 'expires', 'revision'], ['namespace', 'id']);
  const out: { -readonly [K in keyof Metadata]: Metadata[K] } = { name };
  const description = optString(ctx, meta['description'], 'metadata.description');
  if (description !== undefined && description !== '') out.description = description;
  const labels = meta['labels'];
  if (labels !== undefined && labels !== null) {
    if (!isRecord(labels)) fail(ctx, 'metadata.labels', 'must be a mapping of strings');
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v !== 'string') fail(ctx, `metadata.labels[${quote(k)}]`, 'must be a string');
      copy[k] = v;
    }
    if (Object.keys(copy).length > 0) out.labels = copy;
  }
  const expires = optTimestamp(ctx, meta['expires'], 'metadata.expires');
  if (expires !== undefined) out.expires = expires;
  const revision = optString(ctx, meta['revision'], 'metadata.revision');
  if (revision !== undefined && revision !== '') out.revision = revision;
  return out;
}

/** Checks `kind` and `version`, filling them when absent. Returns the version. */
export function checkHeader<V extends string>(
  ctx: ParseContext,
  raw: Record<string, unknown>,
  kind: string,
  versions: readonly V[],
  defaultVersion: V,
): V {
  const k = raw['kind'];
  if (k !== undefined && k !== null && k !== kind) fail(ctx, 'kind', `must be ${quote(kind)}, got ${quote(String(k))}`);
  const v = raw['version'];
  if (v === undefined || v === null) return defaultVersion;
  if (typeof v !== 'string' || !(versions as readonly string[]).includes(v)) {
    fail(ctx, 'version', `${quote(String(v))} is not supported, use ${versions.join(' or ')}`);
  }
  return v as V;
}
