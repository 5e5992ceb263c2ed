/**
 * An identity on disk: the key, certificates and trusted CAs a process or admin tool presents to the auth
 * API. One directory per identity (the auth server writes its local admin identity to
 * `<data_dir>/admin/`; agents write theirs after joining):
 *
 * | file | what | mode |
 * |---|---|---|
 * | `key.pem` | TLS private key (PKCS#8) | 0600 |
 * | `cert.pem` | TLS certificate | 0644 |
 * | `ca.pem` | trusted CA certificates (the host CA), concatenated | 0644 |
 * | `ssh_key` | SSH private key (OpenSSH format), optional | 0600 |
 * | `ssh_key-cert.pub` | SSH certificate, optional | 0644 |
 * | `ssh_ca.pub` | trusted SSH CA keys (`authorized_keys` lines), optional | 0644 |
 * | `identity.json` | cluster name and auth server addresses | 0644 |
 */

import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { derToPem, pemBlocksToDer } from '../ca/pem.js';
import { BadParameterError, NotFoundError } from '../errors/index.js';
import { readOptional, writeAtomic } from './files.js';

/** A client identity: what {@link loadIdentity} reads and {@link writeIdentity} writes. */
export interface Identity {
  /** TLS private key, PKCS#8 PEM. A secret. */
  key: string;
  /** TLS certificate, PEM. */
  cert: string;
  /** CA certificates to trust the auth server with, PEM each. */
  caCerts: string[];
  /** SSH private key, OpenSSH PEM. A secret. */
  sshKey?: string;
  /** SSH certificate line. */
  sshCert?: string;
  /** Trusted SSH CA keys, `authorized_keys` lines. */
  sshCaKeys?: string[];
  clusterName?: string;
  /** `host:port` of auth servers this identity talks to. */
  authServers?: string[];
}

/** File names inside an identity directory. */
export const IDENTITY_FILES = Object.freeze({
  key: 'key.pem',
  cert: 'cert.pem',
  caCerts: 'ca.pem',
  sshKey: 'ssh_key',
  sshCert: 'ssh_key-cert.pub',
  sshCaKeys: 'ssh_ca.pub',
  meta: 'identity.json',
});

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

/**
 * Reads the identity in `dir`. Throws {@link NotFoundError} when the directory holds none.
 *
 * @example
 * ```ts
 * const identity = await loadIdentity('/var/lib/teleport/admin');
 * const client = newAuthClient({ addr: identity.authServers?.[0] ?? '127.0.0.1:3025', identity });
 * ```
 */
export async function loadIdentity(dir: string): Promise<Identity> {
  const file = (name: string): string => path.join(dir, name);
  const [key, cert, ca] = await Promise.all([
    readOptional(file(IDENTITY_FILES.key)),
    readOptional(file(IDENTITY_FILES.cert)),
    readOptional(file(IDENTITY_FILES.caCerts)),
  ]);
  if (key === undefined || cert === undefined || ca === undefined) {
    throw new NotFoundError(`no identity found in ${dir}`, {
      hint: 'on the auth server, start teleport-ts once: it writes the admin identity to <data_dir>/admin',
    });
  }
  const caCerts = pemBlocksToDer(ca, 'CERTIFICATE').map((der) => derToPem(der, 'CERTIFICATE'));
  if (caCerts.length === 0) throw new BadParameterError(`${file(IDENTITY_FILES.caCerts)} holds no certificate`);
  const identity: Identity = { key, cert, caCerts };
  const [sshKey, sshCert, sshCa, meta] = await Promise.all([
    readOptional(file(IDENTITY_FILES.sshKey)),
    readOptional(file(IDENTITY_FILES.sshCert)),
    readOptional(file(IDENTITY_FILES.sshCaKeys)),
    readOptional(file(IDENTITY_FILES.meta)),
  ]);
  if (sshKey !== undefined) identity.sshKey = sshKey;
  if (sshCert !== undefined) identity.sshCert = sshCert.trim();
  if (sshCa !== undefined) identity.sshCaKeys = lines(sshCa);
  if (meta !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(meta);
    } catch {
      throw new BadParameterError(`${file(IDENTITY_FILES.meta)} is not valid JSON`);
    }
    const m = (doc ?? {}) as { cluster_name?: unknown; auth_servers?: unknown };
    if (typeof m.cluster_name === 'string') identity.clusterName = m.cluster_name;
    if (Array.isArray(m.auth_servers) && m.auth_servers.every((a) => typeof a === 'string')) identity.authServers = m.auth_servers;
  }
  return identity;
}

/**
 * Writes an identity to `dir` (created 0700): private keys 0600, the rest 0644, each file replaced
 * atomically. Optional parts that are absent are removed, so a directory never mixes two identities.
 *
 * @example
 * ```ts
 * await writeIdentity(path.join(dataDir, 'admin'), { key, cert, caCerts: [hostCaCert], clusterName, authServers: ['127.0.0.1:3025'] });
 * ```
 */
export async function writeIdentity(dir: string, identity: Identity): Promise<void> {
  if (!identity.key || !identity.cert || identity.caCerts.length === 0) {
    throw new TypeError('writeIdentity: an identity needs a key, a certificate and at least one CA certificate');
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(dir, name);
  const optional = async (name: string, data: string | undefined, mode: number): Promise<void> => {
    if (data === undefined) await rm(file(name), { force: true });
    else await writeAtomic(file(name), data, mode);
  };
  await writeAtomic(file(IDENTITY_FILES.key), identity.key, 0o600);
  await writeAtomic(file(IDENTITY_FILES.cert), identity.cert, 0o644);
  await writeAtomic(file(IDENTITY_FILES.caCerts), identity.caCerts.map((c) => c.trimEnd() + '\n').join(''), 0o644);
  await optional(IDENTITY_FILES.sshKey, identity.sshKey, 0o600);
  await optional(IDENTITY_FILES.sshCert, identity.sshCert === undefined ? undefined : `${identity.sshCert.trim()}\n`, 0o644);
  await optional(IDENTITY_FILES.sshCaKeys, identity.sshCaKeys === undefined ? undefined : identity.sshCaKeys.map((k) => `${k}\n`).join(''), 0o644);
  const meta = {
    ...(identity.clusterName !== undefined ? { cluster_name: identity.clusterName } : {}),
    ...(identity.authServers !== undefined ? { auth_servers: identity.authServers } : {}),
  };
  await writeAtomic(file(IDENTITY_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`, 0o644);
}
