import { parseAllDocuments, stringify } from 'yaml';
import { BadParameterError, isKind } from '../errors/index.js';
import { parseResource, resourceToWire, type Resource } from './resource.js';
import { MAX_YAML_NESTING, yamlTooDeepAt } from './yaml-depth.js';

/** Largest YAML input accepted (resources are a few KiB; this bounds parser work on hostile input). */
export const MAX_YAML_LENGTH = 1024 * 1024;

/**
 * Parses YAML holding one resource or several separated by `---` (what `tctl get` prints and `tctl create`
 * reads) into typed, validated resources. Empty documents are skipped. Throws {@link BadParameterError}
 * for malformed YAML, a document that is not a mapping, an unknown or missing `kind`, or an invalid
 * resource; with several documents the message says which one (`document 2: ...`).
 *
 * @example
 * ```ts
 * const [role] = resourceFromYaml('kind: role\nversion: v7\nmetadata:\n  name: dev\nspec: {}\n');
 * ```
 */
export function resourceFromYaml(text: string): Resource[] {
  if (typeof text !== 'string') throw new TypeError('resourceFromYaml expects a string');
  if (text.length > MAX_YAML_LENGTH) throw new BadParameterError(`YAML input is larger than ${MAX_YAML_LENGTH} bytes`);
  const deepAt = yamlTooDeepAt(text);
  if (deepAt !== undefined) throw new BadParameterError(`malformed YAML at line ${deepAt}: nested deeper than ${MAX_YAML_NESTING} levels`);
  const parsed = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const many = docs.length > 1;
  const out: Resource[] = [];
  docs.forEach((doc, i) => {
    const where = many ? `document ${i + 1}: ` : '';
    const err = doc.errors[0];
    if (err !== undefined) {
      // Only the first line: later lines quote the input, which may hold a secret (a token's name).
      const line = err.linePos?.[0];
      const at = line ? ` at line ${line.line}, column ${line.col}` : '';
      const reason = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw new BadParameterError(`${where}malformed YAML${at}: ${reason}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new BadParameterError(`${where}malformed YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (value === null || value === undefined) return;
    try {
      out.push(parseResource(value));
    } catch (e) {
      if (many && isKind(e, 'bad-parameter')) {
        throw new BadParameterError(`${where}${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), code: e.code });
      }
      throw e;
    }
  });
  return out;
}

/** Recursively sorts mapping keys, as Teleport's JSON-to-YAML conversion prints them. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Prints resources as `tctl get` does: keys sorted, two-space indent, sequences not indented under
 * their key, empty fields omitted, durations as `30h0m0s`, several resources separated by `---`.
 * Strings that YAML 1.1 readers would take for something else (`off`, `yes`, timestamps) are quoted.
 *
 * @example
 * ```ts
 * process.stdout.write(resourceToYaml(roles));
 * ```
 */
export function resourceToYaml(resource: Resource | readonly Resource[]): string {
  const list: readonly Resource[] = Array.isArray(resource) ? resource : [resource as Resource];
  return list
    .map((r) => stringify(sortKeys(resourceToWire(r)), { version: '1.1', indentSeq: false, singleQuote: true, lineWidth: 0 }))
    .join('---\n');
}
