/** A profile's status as `tsh status` shows it, read from the profile and its SSH certificate. */

import { summarizeSshCertificate, SSH_CERT_VALID_FOREVER } from '@teleport-ts/core/ca/sshca';
import { BadParameterError } from '@teleport-ts/core/errors';
import { currentProfileName, listProfileNames, readProfile, readSshCert, type Profile } from '@teleport-ts/core/profile';

/** What `tsh status` reads from an OpenSSH user certificate. */
export interface SshCertSummary {
  keyId: string;
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: number;
  /** Seconds since the epoch; `Infinity` for "forever". */
  validBefore: number;
  extensions: Record<string, string>;
}

/**
 * Reads a `-cert.pub` line with core's light reader, without verifying its signature (status shows what the profile
 * holds; servers verify). Any defect reads as one "malformed SSH certificate" line.
 *
 * @example
 * ```ts
 * readSshCertSummary(await readFile(certPath, 'utf8')).principals; // ['alice']
 * ```
 */
export function readSshCertSummary(line: string): SshCertSummary {
  let cert;
  try {
    cert = summarizeSshCertificate(line);
  } catch {
    throw new BadParameterError('malformed SSH certificate');
  }
  if (cert.certType !== 'user') throw new BadParameterError('not an SSH user certificate');
  return {
    keyId: cert.keyId,
    principals: cert.validPrincipals,
    validAfter: Number(cert.validAfter),
    validBefore: cert.validBefore === SSH_CERT_VALID_FOREVER ? Infinity : Number(cert.validBefore),
    extensions: cert.extensions,
  };
}

export interface ProfileStatus {
  /** `https://host:port` */
  proxyUrl: string;
  webProxyAddr: string;
  username: string;
  cluster: string;
  roles: string[];
  traits: Record<string, string[]>;
  logins: string[];
  databaseUsers: string[];
  databaseNames: string[];
  kubernetesEnabled: boolean;
  /** `undefined` when the certificate never expires. */
  validUntil: Date | undefined;
  extensions: string[];
  active: boolean;
  /** Ids of the access requests whose roles the certificate carries (its expiry is then theirs at the latest). */
  activeRequests: string[];
}

/** Extensions that carry Teleport's identity, not permissions: Teleport's status leaves them out. */
const HIDDEN_EXTENSION = /^(x-)?teleport-/;
/** Principals Teleport adds for its own use. */
const INTERNAL_LOGIN = /^-teleport-/;

function jsonExtension(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Builds the status of a profile from its SSH certificate line. */
export function profileStatus(profile: Profile, sshCertLine: string, active: boolean): ProfileStatus {
  const cert = readSshCertSummary(sshCertLine);
  const roles = stringList((jsonExtension(cert.extensions['teleport-roles']) as { roles?: unknown } | undefined)?.roles);
  const traitsDoc = jsonExtension(cert.extensions['teleport-traits']);
  const traits: Record<string, string[]> = {};
  if (traitsDoc && typeof traitsDoc === 'object' && !Array.isArray(traitsDoc)) {
    for (const [k, v] of Object.entries(traitsDoc)) traits[k] = stringList(v);
  }
  return {
    proxyUrl: `https://${profile.web_proxy_addr}`,
    webProxyAddr: profile.web_proxy_addr,
    username: cert.keyId || profile.user,
    cluster: profile.site_name,
    roles: roles.filter((r) => r !== 'default-implicit-role').sort(),
    traits,
    logins: cert.principals.filter((p) => !INTERNAL_LOGIN.test(p)),
    databaseUsers: traits['db_users'] ?? [],
    databaseNames: traits['db_names'] ?? [],
    kubernetesEnabled: false,
    validUntil: Number.isFinite(cert.validBefore) ? new Date(cert.validBefore * 1000) : undefined,
    extensions: Object.keys(cert.extensions).filter((e) => !HIDDEN_EXTENSION.test(e)).sort(),
    active,
    activeRequests: stringList((jsonExtension(cert.extensions['teleport-active-requests']) as { access_requests?: unknown } | undefined)?.access_requests),
  };
}

/** Every logged-in profile in the store, the current one first (`active: true`). */
export async function loadStatuses(home: string): Promise<ProfileStatus[]> {
  const current = await currentProfileName(home);
  const names = await listProfileNames(home);
  const ordered = current !== undefined && names.includes(current) ? [current, ...names.filter((n) => n !== current)] : names;
  const out: ProfileStatus[] = [];
  for (const name of ordered) {
    const profile = await readProfile(home, name);
    if (!profile) continue;
    const cert = await readSshCert(home, profile);
    if (cert === undefined) continue;
    try {
      out.push(profileStatus(profile, cert, name === current));
    } catch {
      // A damaged certificate reads as "not logged in" to that proxy.
    }
  }
  return out;
}
