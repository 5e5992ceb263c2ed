import { stringify } from 'yaml';
import { BadParameterError, isKind } from '../errors/index.js';
import { parseResource, resourceToWire, type Resource } from './resource.js';
import { MAX_YAML_NESTING, parseAllDocumentsWithinDepth } from './yaml-depth.js';

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
  // logLevel 'error': the library would print warnings (e.g. about collection keys) to stderr; the checks below say what is wrong.
  const parsed = parseAllDocumentsWithinDepth(text, { uniqueKeys: true, logLevel: 'error' });
  if ('tooDeepAt' in parsed) throw new BadParameterError(`malformed YAML at line ${parsed.tooDeepAt}: nested deeper than ${MAX_YAML_NESTING} levels`);
  const { docs, lines } = parsed;
  const many = docs.length > 1;
  const out: Resource[] = [];
  docs.forEach((doc, i) => {
    const where = many ? `document ${i + 1}: ` : '';
    const err = doc.errors[0];
    if (err !== undefined) {
      // The message is not prettified (that would quote the input's line, which may hold a secret: a token's name);
      // only its first line is kept all the same.
      const at = err.pos[0] === -1 ? '' : ((p) => ` at line ${p.line}, column ${p.col}`)(lines.linePos(err.pos[0]));
      const reason = err.message.split('\n')[0] ?? '';
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
