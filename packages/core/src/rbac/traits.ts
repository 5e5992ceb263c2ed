import { parseTraitTemplate, WILDCARD, type LabelSelector, type Traits } from '../types/index.js';

/**
 * Expands one role value against a user's traits. A literal is returned as is; a template
 * (`{{internal.logins}}`, `{{external.groups}}`, optionally with a literal prefix/suffix) yields one
 * value per trait value; a missing or empty trait yields nothing. Both `internal.x` and `external.x`
 * read `traits.x`. A value that fails to parse as a template (only possible for roles not built by
 * `parseRole`) also yields nothing, as Teleport skips it.
 *
 * @example
 * ```ts
 * applyTraits('{{internal.logins}}', { logins: ['alice', 'ubuntu'] }); // ['alice', 'ubuntu']
 * applyTraits('{{external.team}}-ro', {}); // []
 * ```
 */
export function applyTraits(value: string, traits: Traits): string[] {
  let tmpl;
  try {
    tmpl = parseTraitTemplate(value);
  } catch {
    return [];
  }
  if (tmpl === null) return [value];
  const values = Object.hasOwn(traits, tmpl.name) ? (traits[tmpl.name] ?? []) : [];
  const out: string[] = [];
  for (const v of values) {
    // An empty trait value would turn `{{internal.logins}}` into an empty login.
    if (v === '') continue;
    const expanded = `${tmpl.prefix}${v}${tmpl.suffix}`;
    if (!out.includes(expanded)) out.push(expanded);
  }
  return out;
}

/** {@link applyTraits} over a list, flattened and deduplicated, order kept. */
export function applyTraitsToList(values: readonly string[], traits: Traits): string[] {
  const out = new Set<string>();
  for (const v of values) for (const e of applyTraits(v, traits)) out.add(e);
  return [...out];
}

/**
 * Expands templates in label selector keys and values. A key expands to its first value (Teleport's
 * rule); a key that expands to nothing makes the selector match nothing, as does a key whose values
 * all expand to nothing. `'*': '*'` stays a match-everything selector.
 */
export function applyTraitsToLabels(selector: LabelSelector, traits: Traits): LabelSelector {
  const wildcard = selector[WILDCARD];
  if (wildcard !== undefined && wildcard.length === 1 && wildcard[0] === WILDCARD) return { [WILDCARD]: [WILDCARD] };
  const out: Record<string, readonly string[]> = {};
  for (const [key, values] of Object.entries(selector)) {
    const keys = applyTraits(key, traits);
    const first = keys[0];
    if (first === undefined) return {};
    out[first] = applyTraitsToList(values, traits);
  }
  return out;
}
