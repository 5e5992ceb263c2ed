/**
 * The one rule for the names of users, roles, join tokens and locks, shared by the auth server (at creation), tctl and
 * tsh (for their own checks before they call the server): a name that passes can be managed afterwards with
 * `tctl users rm|update`, `tctl rm <kind>/<name>`, and becomes tsh's key file names (`keys/<proxy>/<user>-x509.pem`).
 *
 * Teleport itself keeps names loose (any non-empty string) and relies on each consumer; here a name is what every
 * consumer accepts: ASCII letters, digits and `. _ - @ +` (e-mail addresses work), at most 128 characters, starting with
 * a letter, digit, `_` or `@`: never `.`/`..` or a hidden file, never a flag (`-x`), never `/`, `,` (the `--roles=a,b`
 * separator), whitespace, control or bidirectional-override characters (which display a name reversed).
 *
 * This module imports nothing but the errors, so tsh's profile code can use it without loading the schemas.
 */

import { BadParameterError } from '../errors/index.js';

/** Longest name: tsh adds up to 9 characters (`-x509.pem`) and a file name holds 255 bytes. */
const MAX_NAME_LENGTH_STRICT = 128;

const NAME = /^[A-Za-z0-9_@][A-Za-z0-9._@+-]*$/;
/** C0/C1 controls, and the bidirectional marks and overrides (U+200E/F, U+202A-U+202E, U+2066-U+2069). */
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * A name quoted for a message with everything outside printable ASCII escaped (`\u202e`), so a refused name can
 * neither reorder nor break the line it is shown in.
 */
export function quoteName(name: string): string {
  const cut = name.length > 64 ? `${name.slice(0, 64)}...` : name;
  return `"${cut.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;
}

/** Why `name` is not a valid name, or `undefined` when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (CONTROL_OR_BIDI.test(name)) return 'contains control or bidirectional-override characters';
  if (name.length > MAX_NAME_LENGTH_STRICT) return `is longer than ${MAX_NAME_LENGTH_STRICT} characters`;
  if (!NAME.test(name)) return 'must be ASCII letters, digits and . _ - @ +, starting with a letter, a digit, _ or @';
  return undefined;
}

/**
 * Checks a new name of a `what` (`user`, `role`, `token`, `lock`) in one line; a secret (a join token) is never
 * quoted.
 *
 * @example
 * ```ts
 * checkNewName('user', 'alice@example.com'); // 'alice@example.com'
 * checkNewName('role', 'dev\u202e'); // throws: role name "dev\u202e" contains control or bidirectional-override characters
 * ```
 */
export function checkNewName(what: string, name: string, options: { secret?: boolean } = {}): string {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new BadParameterError(`${what} name${options.secret ? '' : ` ${quoteName(name)}`} ${problem}`);
  return name;
}
