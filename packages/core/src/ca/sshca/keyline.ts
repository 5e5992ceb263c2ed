/**
 * The SSH key types and the one-line key format (`authorized_keys`, `.pub`, `-cert.pub`), without `node:crypto`:
 * light readers (`./summary.ts`) parse lines with it, and `./publickey.ts` builds key objects on top.
 */

import { BadParameterError } from '../../errors/index.js';
import { newSshReader } from './wire.js';

/** Public key algorithms we read and write. DSA and the FIDO `sk-*` types are refused. */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

/** True when `type` names a public key algorithm we support. */
export function isSshKeyType(type: string): type is SshKeyType {
  return (SSH_KEY_TYPES as readonly string[]).includes(type);
}

/** One line of `authorized_keys` (or a `.pub` / `-cert.pub` file). */
export interface AuthorizedKeyLine {
  /** The options field of an `authorized_keys` line (`from="10.0.0.0/8",no-pty`), when present. */
  options: string | undefined;
  /** The key type named on the line, e.g. `ssh-ed25519` or `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The decoded base64 field; its embedded type name matches `type`. */
  blob: Buffer;
  comment: string;
}

/** Longest line we accept: large RSA certificates with many principals stay far below. */
const MAX_AUTHORIZED_KEY_LINE = 256 * 1024;

const looksLikeKeyType = (token: string): boolean =>
  isSshKeyType(token) || /^[a-z0-9-]+-cert-v01@openssh\.com$/.test(token) || /^(ssh|ecdsa|sk)-[a-z0-9@.-]+$/.test(token);

/**
 * Parses the one-line format shared by `authorized_keys`, `id_*.pub` and `*-cert.pub`: `[options] type base64
 * [comment]`. The options field of `authorized_keys` may contain quoted spaces.
 *
 * @example
 * ```ts
 * parseAuthorizedKeyLine('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... alice@laptop').comment; // 'alice@laptop'
 * ```
 */
export function parseAuthorizedKeyLine(line: string): AuthorizedKeyLine {
  if (line.length > MAX_AUTHORIZED_KEY_LINE) throw new BadParameterError('SSH key line is too long');
  let rest = line.trim();
  if (rest === '' || rest.startsWith('#')) throw new BadParameterError('expected an SSH key line');
  let options: string | undefined;
  const firstSpace = rest.search(/\s/);
  const firstToken = firstSpace < 0 ? rest : rest.slice(0, firstSpace);
  if (!looksLikeKeyType(firstToken)) {
    let i = 0;
    let quoted = false;
    for (; i < rest.length; i++) {
      const c = rest[i]!;
      if (c === '\\' && quoted) i++;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && /\s/.test(c)) break;
    }
    if (quoted) throw new BadParameterError('malformed SSH key line: unterminated quote in options');
    options = rest.slice(0, i);
    rest = rest.slice(i).trimStart();
  }
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(rest);
  if (!match) throw new BadParameterError('malformed SSH key line');
  const type = match[1]!;
  const blob = Buffer.from(match[2]!, 'base64');
  const embedded = newSshReader(blob, 'SSH key').readText();
  if (embedded !== type) throw new BadParameterError(`SSH key line says "${type}" but the key is "${embedded}"`);
  return { options, type, blob, comment: (match[3] ?? '').trim() };
}
