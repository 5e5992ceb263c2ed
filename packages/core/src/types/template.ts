import { BadParameterError } from '../errors/index.js';
import { quote } from './validate.js';

/**
 * Trait templates in role values, after Teleport's `{{internal.logins}}` / `{{external.groups}}`
 * syntax. A value holds at most one `{{...}}` expression, optionally with a literal prefix and suffix
 * (`{{internal.logins}}-admin`). Template functions (`email.local`, `regexp.replace`) are not supported.
 */

/** The `internal.*` traits Teleport defines; anything else under `internal` is a typo. */
export const INTERNAL_TRAITS = [
  'logins',
  'windows_logins',
  'kubernetes_groups',
  'kubernetes_users',
  'db_names',
  'db_users',
  'db_roles',
  'aws_role_arns',
  'azure_identities',
  'gcp_service_accounts',
  'jwt',
] as const;

export type TraitNamespace = 'internal' | 'external';

/** A parsed `{{namespace.name}}` expression with the literal text around it. */
export interface TraitTemplate {
  readonly namespace: TraitNamespace;
  readonly name: string;
  readonly prefix: string;
  readonly suffix: string;
}

const OUTER = /^([^{}]*)\{\{([^{}]*)\}\}([^{}]*)$/;
const DOT_FORM = /^(internal|external)\.([A-Za-z0-9_-]+)$/;
const BRACKET_FORM = /^(internal|external)\[\s*"([^"]+)"\s*\]$/;

/**
 * Parses a role value: `null` for a literal, a {@link TraitTemplate} for a template. Throws
 * {@link BadParameterError} (without context; callers prefix the field) when the value uses template
 * brackets but is not a supported expression.
 *
 * @example
 * ```ts
 * parseTraitTemplate('{{internal.logins}}'); // { namespace: 'internal', name: 'logins', prefix: '', suffix: '' }
 * parseTraitTemplate('ubuntu'); // null
 * ```
 */
export function parseTraitTemplate(value: string): TraitTemplate | null {
  if (!value.includes('{{') && !value.includes('}}')) return null;
  const outer = OUTER.exec(value);
  if (!outer) {
    throw new BadParameterError(`${quote(value)} uses template brackets but is not of the form {{internal.name}} or {{external.name}}`);
  }
  const [, prefix = '', inner = '', suffix = ''] = outer;
  const expr = inner.trim();
  const m = DOT_FORM.exec(expr) ?? BRACKET_FORM.exec(expr);
  if (!m) {
    const what = expr.includes('(') ? 'template functions are not supported' : 'is not a trait reference';
    throw new BadParameterError(`${quote(value)}: ${what}, use {{internal.name}} or {{external.name}}`);
  }
  const namespace = m[1] as TraitNamespace;
  const name = m[2] ?? '';
  if (namespace === 'internal' && !(INTERNAL_TRAITS as readonly string[]).includes(name)) {
    throw new BadParameterError(`${quote(value)}: unknown internal trait ${quote(name)}, known: ${INTERNAL_TRAITS.join(', ')}`);
  }
  return { namespace, name, prefix, suffix };
}
