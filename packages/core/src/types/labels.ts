import { isTeleportError } from '../errors/index.js';
import { parseTraitTemplate } from './template.js';
import { v } from '../schema/index.js';
import { isRecord, problem, quote } from './validate.js';

/** The wildcard Teleport uses in labels, logins, db users and names, rule resources and verbs. */
export const WILDCARD = '*';

/**
 * A label selector in a role (`node_labels`, `db_labels`): label key -> accepted values. In YAML a value
 * may be one string or a list; parsed selectors always hold lists. A value is `*` (any value), a glob
 * (`prod-*`), an anchored regular expression (`^prod-[0-9]+$`) or a trait template
 * (`{{external.env}}`). The key `*` with the single value `*` matches every resource.
 */
export type LabelSelector = Readonly<Record<string, readonly string[]>>;

/** True when `value` is a regular-expression label value: Teleport treats `^...$` as a regex, anything else as a glob. */
export function isRegexLabelValue(value: string): boolean {
  return value.length >= 2 && value.startsWith('^') && value.endsWith('$');
}

/** The problem of a template in `value` (`has an invalid template: ...`), or `undefined`. */
export function templateProblem(value: string): string | undefined {
  try {
    parseTraitTemplate(value);
    return undefined;
  } catch (err) {
    if (isTeleportError(err)) return `has an invalid template: ${err.message}`;
    throw err;
  }
}

/** The first problem of one selector entry, after the selector's path (`["env"] must be ...`, `has ...`). */
function selectorEntryProblem(key: string, values: unknown): string | undefined {
  const at = `[${quote(key)}]`;
  if (key === '') return 'has an empty label name';
  const list = typeof values === 'string' ? [values] : values;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) return `${at} must be a string or a list of strings`;
  const unique = [...new Set(list)];
  if (key === WILDCARD && !(unique.length === 1 && unique[0] === WILDCARD)) return `${at} only supports the value "*" ('*': '*' matches every resource)`;
  const keyProblem = templateProblem(key);
  if (keyProblem !== undefined) return keyProblem;
  for (const value of unique) {
    const valueProblem = templateProblem(value);
    if (valueProblem !== undefined) return `${at} ${valueProblem}`;
    if (isRegexLabelValue(value) && parseTraitTemplate(value) === null && !compiles(value)) return `${at} has an invalid regular expression ${quote(value)}`;
  }
  return undefined;
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/**
 * A label selector: string keys, string or list-of-string values (read as lists), `*` only as `'*': '*'`, regular
 * expressions that compile, templates that parse. Absent reads as `{}`.
 */
export const LabelSelectorSchema = v.optional(
  v.pipe(
    v.nullish(v.custom<Record<string, unknown>>(isRecord, 'must be a mapping of label name to a value or a list of values'), {}),
    problem((sel: Record<string, unknown>) => {
      for (const [key, values] of Object.entries(sel)) {
        const found = selectorEntryProblem(key, values);
        if (found !== undefined) return found;
      }
      return undefined;
    }),
    v.transform((sel): LabelSelector => {
      const out: Record<string, string[]> = {};
      for (const [key, values] of Object.entries(sel)) out[key] = [...new Set(typeof values === 'string' ? [values] : (values as string[]))];
      return out;
    }),
  ),
  {},
);
