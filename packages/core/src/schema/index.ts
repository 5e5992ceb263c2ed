/**
 * The one schema layer for everything that crosses a trust boundary (teleport.yaml, resources, API request
 * bodies, API responses read by the clients), on valibot: small, tree-shakable, fast to load, Node >= 20.
 *
 * Every failure becomes one {@link BadParameterError} line in the house format,
 * `<what>: <path> <problem>` (`role "dev": spec.allow.logins must be a list of strings`), built from the
 * issue's path and expected type only: the value received is never quoted, so a secret typed in the wrong
 * place never reaches a message or a log. A schema may give its own message (`v.check(fn, 'must be ...')`);
 * it is then used after the path.
 *
 * @example
 * ```ts
 * import { v, parseWith } from '@teleport-ts/core/schema';
 * const Body = v.strictObject({ user: v.string(), ttl_ms: v.optional(v.number()) });
 * const body = parseWith(Body, input, 'request body'); // typed, or BadParameterError
 * ```
 */

import * as v from 'valibot';
import { BadParameterError } from '../errors/index.js';

export { v };

/** What a type check failing on `expected` reads as, after the field's path. */
const EXPECTED_TEXT: Record<string, string> = {
  string: 'must be a string',
  number: 'must be a number',
  boolean: 'must be true or false',
  Object: 'must be a mapping',
  Array: 'must be a list',
  never: 'is not a known field',
};

/** `spec.allow.logins`, `databases[0].name`; empty for the root. */
export function issuePath(issue: v.BaseIssue<unknown>): string {
  let out = '';
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The problem part of a message, from the expected type only (never the received value). */
function problemText(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema' && issue.expected !== null) {
    if (issue.input === undefined) return 'is required';
    const known = EXPECTED_TEXT[issue.expected];
    if (known) return known;
    // A union of literals (`"postgres" | "cockroachdb"`) names the accepted values, never the given one.
    return `must be ${issue.expected.replaceAll('|', 'or')}`;
  }
  return 'is not valid';
}

/** Fallback message for issues whose schema gave none: used by {@link parseWith} through valibot's config. */
const defaultMessage = (issue: v.BaseIssue<unknown>): string => problemText(issue);

/**
 * What a message names before the field: a label (`role "dev"` gives `role "dev": spec.allow ...`), or `{ at }`,
 * the path the input sits at in a larger document (`{ at: 'teleport' }` gives `teleport.data_dir ...`; `{ at: '' }`
 * gives the bare path), as teleport.yaml's messages read.
 */
export type IssueSubject = string | { readonly at: string } | typeof MESSAGE_ONLY;

/**
 * The subject for schemas whose every message already names its field (`missing parameter user`, the API's request
 * bodies): the line is the message alone, with no path before it.
 */
export const MESSAGE_ONLY = Object.freeze({ messageOnly: true as const });

/**
 * The first issue as one line: `<what>: <path> <problem>` (or `<what>: <problem>` at the root),
 * `<at>.<path> <problem>`, or the message alone for {@link MESSAGE_ONLY}. A message starting with `:` or `[` follows
 * the path directly (`listen_addr: invalid address`, `metadata.labels["env"] must be a string`).
 */
export function describeIssue(what: IssueSubject, issue: v.BaseIssue<unknown>): string {
  const rel = issuePath(issue);
  const sep = issue.message.startsWith(':') || issue.message.startsWith('[') ? '' : ' ';
  if (typeof what === 'string') return rel === '' ? `${what}: ${issue.message}` : `${what}: ${rel}${sep}${issue.message}`;
  if (!('at' in what)) return issue.message;
  const path = what.at === '' ? rel : rel === '' ? what.at : rel.startsWith('[') ? `${what.at}${rel}` : `${what.at}.${rel}`;
  return path === '' ? issue.message : `${path}${sep}${issue.message}`;
}

/**
 * Parses `input` with `schema`; returns the typed output or throws one {@link BadParameterError} line that
 * names `what` (`role "dev"`, `request body`, `teleport.yaml`, or `{ at: 'teleport' }`) and the first failing field.
 */
export function parseWith<S extends v.GenericSchema>(schema: S, input: unknown, what: IssueSubject): v.InferOutput<S> {
  const result = v.safeParse(schema, input, { abortEarly: true, message: defaultMessage });
  if (result.success) return result.output;
  const issue = result.issues[0];
  throw new BadParameterError(describeIssue(what, issue));
}
