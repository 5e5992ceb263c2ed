import { isRegexLabelValue, WILDCARD, type LabelSelector } from '../types/index.js';

/** Resource labels: name -> value (a node's or database's static and dynamic labels). */
export type ResourceLabels = Readonly<Record<string, string>>;

/** What a pattern that does not compile does: `false` for allow rules, `true` for deny rules (fail closed). */
export interface LabelMatchOptions {
  invalidPatternMatches?: boolean;
}

/** A compiled label value: `null` means "any value" (`*`), `undefined` an invalid pattern. */
type ValueMatcher = RegExp | null | undefined;

const MAX_CACHED_PATTERNS = 1000;
const patternCache = new Map<string, ValueMatcher>();

function globToRegExp(glob: string): RegExp {
  const escaped = glob.split(WILDCARD).map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  return new RegExp(`^${escaped.join('(.*)')}$`);
}

/**
 * Compiles one label value as Teleport's `utils.MatchString` reads it: `^...$` is a regular expression,
 * anything else a glob where `*` matches any run of characters (so a plain value is an exact match).
 */
function compileValue(value: string): ValueMatcher {
  if (value === WILDCARD) return null;
  const cached = patternCache.get(value);
  if (cached !== undefined || patternCache.has(value)) return cached;
  let compiled: ValueMatcher;
  try {
    compiled = isRegexLabelValue(value) ? new RegExp(value) : globToRegExp(value);
  } catch {
    compiled = undefined;
  }
  if (patternCache.size >= MAX_CACHED_PATTERNS) patternCache.clear();
  patternCache.set(value, compiled);
  return compiled;
}

/**
 * Matches a role's label selector against a resource's labels, with Teleport's semantics:
 * - an empty selector matches nothing;
 * - `'*': '*'` matches everything, even a resource without labels;
 * - otherwise every selector key must be present on the resource (AND across keys), and its value
 *   must match one of the selector's values (OR across values): `*`, a glob, or an anchored `^regex$`.
 *
 * @example
 * ```ts
 * matchLabels({ env: ['prod', 'staging'], region: ['^eu-.*$'] }, { env: 'prod', region: 'eu-west-1' }); // true
 * matchLabels({}, { env: 'prod' }); // false
 * ```
 */
export function matchLabels(selector: LabelSelector, labels: ResourceLabels, options: LabelMatchOptions = {}): boolean {
  const keys = Object.keys(selector);
  if (keys.length === 0) return false;
  const wildcard = selector[WILDCARD];
  if (wildcard !== undefined && wildcard.length === 1 && wildcard[0] === WILDCARD) return true;
  for (const key of keys) {
    if (!Object.hasOwn(labels, key)) return false;
    const actual = labels[key] as string;
    const values = selector[key] ?? [];
    let matched = false;
    for (const value of values) {
      const m = compileValue(value);
      if (m === null) matched = true;
      else if (m === undefined) matched = options.invalidPatternMatches === true;
      else matched = m.test(actual);
      if (matched) break;
    }
    if (!matched) return false;
  }
  return true;
}
