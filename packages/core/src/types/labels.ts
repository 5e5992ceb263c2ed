import { isTeleportError } from '../errors/index.js';
import { parseTraitTemplate } from './template.js';
import { fail, isRecord, quote, type ParseContext } from './validate.js';

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

/**
 * Validates a label selector: string keys, string or list-of-string values, `*` only as `'*': '*'`,
 * regular expressions that compile, templates that parse.
 */
export function parseLabelSelector(ctx: ParseContext, raw: unknown, field: string): LabelSelector {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) fail(ctx, field, 'must be a mapping of label name to a value or a list of values');
  const out: Record<string, string[]> = {};
  for (const [key, v] of Object.entries(raw)) {
    const where = `${field}[${quote(key)}]`;
    if (key === '') fail(ctx, field, 'has an empty label name');
    const values = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(values) || !values.every((x) => typeof x === 'string')) {
      fail(ctx, where, 'must be a string or a list of strings');
    }
    const list = [...new Set(values as string[])];
    if (key === WILDCARD && !(list.length === 1 && list[0] === WILDCARD)) {
      fail(ctx, where, `only supports the value "*" ('*': '*' matches every resource)`);
    }
    checkTemplate(ctx, key, field);
    for (const value of list) {
      checkTemplate(ctx, value, where);
      if (isRegexLabelValue(value) && parseTraitTemplate(value) === null) {
        try {
          new RegExp(value);
        } catch {
          fail(ctx, where, `has an invalid regular expression ${quote(value)}`);
        }
      }
    }
    out[key] = list;
  }
  return out;
}

/** Rethrows a template error with the resource and field in front. */
export function checkTemplate(ctx: ParseContext, value: string, field: string): void {
  try {
    parseTraitTemplate(value);
  } catch (err) {
    if (isTeleportError(err)) fail(ctx, field, `has an invalid template: ${err.message}`);
    throw err;
  }
}
