/**
 * Refusal of unknown teleport.yaml keys, as Teleport refuses unknown fields: a mistyped `auth_servic:` must not
 * start a cluster on defaults. The known keys are read from the valibot schemas themselves (their strict
 * mappings), so a key added to a schema is accepted here with no second list to keep. The YAML document gives the
 * line; the closest known key (by edit distance) is suggested.
 */

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { v } from '../schema/index.js';

/** An unknown key: its path (`teleport.data_dri`), 1-based line, and the closest known path, if one is close. */
interface UnknownKey {
  readonly path: string;
  readonly line: number;
  readonly suggestion?: string;
}

type AnySchema = v.GenericSchema & {
  readonly type: string;
  readonly wrapped?: AnySchema;
  readonly pipe?: readonly { readonly kind: string }[];
  readonly entries?: Record<string, AnySchema>;
  readonly item?: AnySchema;
};

/** The strict mapping a schema checks, through `optional`/`nullish` wrappers and pipes; `undefined` for free-form values. */
function entriesOf(schema: AnySchema): Record<string, AnySchema> | undefined {
  if (schema.type === 'strict_object') return schema.entries;
  if (schema.wrapped) return entriesOf(schema.wrapped);
  for (const step of schema.pipe ?? []) {
    if (step !== schema && step.kind === 'schema') {
      const found = entriesOf(step as AnySchema);
      if (found) return found;
    }
  }
  return undefined;
}

/** The item schema of a list, through wrappers and pipes. */
function itemOf(schema: AnySchema): AnySchema | undefined {
  if (schema.type === 'array') return schema.item;
  if (schema.wrapped) return itemOf(schema.wrapped);
  for (const step of schema.pipe ?? []) {
    if (step !== schema && step.kind === 'schema') {
      const found = itemOf(step as AnySchema);
      if (found) return found;
    }
  }
  return undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key`, when it is close enough to be a typo (at most 2 edits, or a quarter of the key). */
function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(key.length / 4));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/**
 * The first key of `doc` (in document order) that `schema` does not know, or `undefined`. Values the schema does not
 * read as a mapping or a list (free-form labels, a wrong type the schema reports itself) are not walked.
 */
export function findUnknownKey(doc: Document, lines: LineCounter, schema: v.GenericSchema): UnknownKey | undefined {
  const walk = (node: unknown, at: AnySchema, path: string): UnknownKey | undefined => {
    const value = isAlias(node) ? node.resolve(doc) : node;
    if (isSeq(value)) {
      const item = itemOf(at);
      if (!item) return undefined;
      for (const [i, child] of value.items.entries()) {
        const found = walk(child, item, `${path}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    const entries = isMap(value) ? entriesOf(at) : undefined;
    if (!isMap(value) || !entries) return undefined;
    for (const pair of value.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const known = entries[key];
      if (known === undefined) {
        const offset = isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0;
        const suggestion = closestKey(key, Object.keys(entries));
        return { path: join(path, key), line: lines.linePos(offset).line, ...(suggestion ? { suggestion: join(path, suggestion) } : {}) };
      }
      const found = walk(pair.value, known, join(path, key));
      if (found) return found;
    }
    return undefined;
  };
  return walk(doc.contents, schema as AnySchema, '');
}

/** `unknown key "auth_servic" at line 7; did you mean "auth_service"?` */
export function describeUnknownKey(unknown: UnknownKey): string {
  const where = `unknown key ${JSON.stringify(unknown.path.slice(0, 128))} at line ${unknown.line}`;
  return unknown.suggestion === undefined ? where : `${where}; did you mean ${JSON.stringify(unknown.suggestion)}?`;
}
