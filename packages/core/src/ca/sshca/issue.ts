/**
 * Teleport's SSH certificates: user certificates carrying roles, traits and routing in extensions, and host
 * certificates for `<host-uuid>.<cluster>`. Built on the generic encoder in `./certificate.ts`.
 */

import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../clock/index.js';
import { BadParameterError } from '../../errors/index.js';
import { sshCaSigner, signSshCertificate, SSH_CERT_VALID_FOREVER, type SshCaSigner, type SshCertificate } from './certificate.js';
import { parseSshPublicKey, sshPublicKeyFromKeyObject, type SshPublicKey } from './publickey.js';

/** Extension names OpenSSH and Teleport put on certificates. */
export const SSH_EXTENSIONS = {
  permitPty: 'permit-pty',
  permitPortForwarding: 'permit-port-forwarding',
  permitAgentForwarding: 'permit-agent-forwarding',
  permitX11Forwarding: 'permit-X11-forwarding',
  /** JSON `{"version":"v1","roles":[...]}`, as Teleport's `services.MarshalCertRoles`. */
  teleportRoles: 'teleport-roles',
  /** `{"access_requests":["<id>"]}`: the access requests whose roles the certificate carries. */
  teleportActiveRequests: 'teleport-active-requests',
  /** JSON object of trait name -> values. */
  teleportTraits: 'teleport-traits',
  teleportRouteToCluster: 'teleport-route-to-cluster',
  /** Host certificates: the system role (`Node`, `Proxy`...). */
  teleportHostRole: 'x-teleport-role',
  /** Host certificates: the issuing cluster. */
  teleportAuthority: 'x-teleport-authority',
} as const;

/** How far back `valid after` is set, so hosts with a slightly late clock accept a fresh certificate. */
export const SSH_CERT_BACKDATE_MS = 60_000;

/** A CA to sign with: a prepared signer or the CA's PKCS#8 private key PEM. */
export type SshCaInput = SshCaSigner | string;

/** A subject key: an `authorized_keys`-style line, a key object, or a parsed SSH key. */
export type SshPublicKeyInput = string | KeyObject | SshPublicKey;

/** Trait name -> values, as in Teleport. */
export type Traits = Record<string, string[]>;

function toSigner(ca: SshCaInput): SshCaSigner {
  return typeof ca === 'string' ? sshCaSigner(ca) : ca;
}

function toPublicKey(key: SshPublicKeyInput): SshPublicKey {
  if (typeof key === 'string') return parseSshPublicKey(key);
  if ('blob' in key && 'type' in key && typeof key.type === 'string' && Buffer.isBuffer(key.blob)) return key;
  return sshPublicKeyFromKeyObject(key as KeyObject);
}

const toSeconds = (date: Date): bigint => BigInt(Math.floor(date.getTime() / 1000));

/** Options for {@link issueSshUserCert}. */
export interface IssueSshUserCertOptions {
  ca: SshCaInput;
  publicKey: SshPublicKeyInput;
  /** Teleport user name; becomes the key id. */
  username: string;
  /** Unix logins; become the principals. */
  logins: readonly string[];
  roles: readonly string[];
  traits?: Traits;
  routeToCluster?: string;
  /** Ids of the access requests whose roles the certificate carries. */
  activeRequests?: readonly string[];
  expires: Date;
  clock: Clock;
  /** Default true. */
  permitPty?: boolean;
  permitPortForwarding?: boolean;
  permitAgentForwarding?: boolean;
  permitX11Forwarding?: boolean;
  /** Critical option `force-command`. */
  forceCommand?: string;
  /** Critical option `source-address`: CIDR blocks the certificate may be used from. */
  sourceAddresses?: readonly string[];
  serial?: bigint;
}

/**
 * Issues a Teleport SSH user certificate: key id = user, principals = logins, `valid after` one minute in the past,
 * extensions `permit-*`, `teleport-roles`, `teleport-traits`, `teleport-route-to-cluster`.
 *
 * @example
 * ```ts
 * const cert = await issueSshUserCert({
 *   ca: sshSigningKeyPair(userCa).private_key, publicKey: keys.sshPublicKey, username: 'alice',
 *   logins: ['root'], roles: ['access'], expires: new Date(clock.now().getTime() + 12 * 3600_000), clock,
 * });
 * await writeFile(`${keyPath}-cert.pub`, formatSshCertificate(cert) + '\n');
 * ```
 */
export async function issueSshUserCert(options: IssueSshUserCertOptions): Promise<SshCertificate> {
  if (!options.username) throw new BadParameterError('an SSH user certificate needs a user name');
  const now = options.clock.now().getTime();
  if (!(options.expires.getTime() > now)) throw new BadParameterError('SSH certificate expiry must be in the future');
  const extensions: Record<string, string> = {};
  if (options.permitPty ?? true) extensions[SSH_EXTENSIONS.permitPty] = '';
  if (options.permitPortForwarding) extensions[SSH_EXTENSIONS.permitPortForwarding] = '';
  if (options.permitAgentForwarding) extensions[SSH_EXTENSIONS.permitAgentForwarding] = '';
  if (options.permitX11Forwarding) extensions[SSH_EXTENSIONS.permitX11Forwarding] = '';
  extensions[SSH_EXTENSIONS.teleportRoles] = JSON.stringify({ version: 'v1', roles: options.roles });
  if (options.traits && Object.keys(options.traits).length > 0) {
    extensions[SSH_EXTENSIONS.teleportTraits] = JSON.stringify(options.traits);
  }
  if (options.routeToCluster) extensions[SSH_EXTENSIONS.teleportRouteToCluster] = options.routeToCluster;
  if (options.activeRequests?.length) extensions[SSH_EXTENSIONS.teleportActiveRequests] = JSON.stringify({ access_requests: options.activeRequests });
  const criticalOptions: Record<string, string> = {};
  if (options.forceCommand !== undefined) criticalOptions['force-command'] = options.forceCommand;
  if (options.sourceAddresses?.length) criticalOptions['source-address'] = options.sourceAddresses.join(',');
  return signSshCertificate(
    {
      certType: 'user',
      publicKey: toPublicKey(options.publicKey),
      serial: options.serial ?? 0n,
      keyId: options.username,
      validPrincipals: options.logins,
      validAfter: toSeconds(new Date(now - SSH_CERT_BACKDATE_MS)),
      validBefore: toSeconds(options.expires),
      criticalOptions,
      extensions,
    },
    toSigner(options.ca),
  );
}

/** Options for {@link issueSshHostCert}. */
export interface IssueSshHostCertOptions {
  ca: SshCaInput;
  publicKey: SshPublicKeyInput;
  /** The host's UUID. */
  hostId: string;
  clusterName: string;
  /** The host's node name, added as a principal when set. */
  nodeName?: string;
  /** Teleport system role of the host (`Node`, `Proxy`, `Auth`...). */
  systemRole: string;
  /** More principals, e.g. `localhost`, `127.0.0.1`, `::1`, public addresses. */
  additionalPrincipals?: readonly string[];
  /** Default: never expires, as Teleport's host certificates. */
  expires?: Date;
  clock: Clock;
  serial?: bigint;
}

/** Principals of a host certificate: `<uuid>.<cluster>`, `<uuid>`, the node name, then the additional ones, deduplicated. */
export function sshHostCertPrincipals(options: Pick<IssueSshHostCertOptions, 'hostId' | 'clusterName' | 'nodeName' | 'additionalPrincipals'>): string[] {
  const all = [`${options.hostId}.${options.clusterName}`, options.hostId, options.nodeName ?? '', ...(options.additionalPrincipals ?? [])];
  return [...new Set(all.filter((p) => p !== ''))];
}

/**
 * Issues a Teleport SSH host certificate: key id `<uuid>.<cluster>`, principals from {@link sshHostCertPrincipals},
 * extensions `x-teleport-role` and `x-teleport-authority`.
 *
 * @example
 * ```ts
 * const cert = await issueSshHostCert({
 *   ca: hostCaKey, publicKey: hostKeys.sshPublicKey, hostId, clusterName: 'example.com', nodeName: 'node-1',
 *   systemRole: 'Node', additionalPrincipals: ['localhost', '127.0.0.1', '::1'], clock,
 * });
 * ```
 */
export async function issueSshHostCert(options: IssueSshHostCertOptions): Promise<SshCertificate> {
  if (!options.hostId || !options.clusterName) throw new BadParameterError('an SSH host certificate needs a host id and a cluster name');
  if (!options.systemRole) throw new BadParameterError('an SSH host certificate needs a system role');
  const now = options.clock.now().getTime();
  if (options.expires && !(options.expires.getTime() > now)) throw new BadParameterError('SSH certificate expiry must be in the future');
  return signSshCertificate(
    {
      certType: 'host',
      publicKey: toPublicKey(options.publicKey),
      serial: options.serial ?? 0n,
      keyId: `${options.hostId}.${options.clusterName}`,
      validPrincipals: sshHostCertPrincipals(options),
      validAfter: toSeconds(new Date(now - SSH_CERT_BACKDATE_MS)),
      validBefore: options.expires ? toSeconds(options.expires) : SSH_CERT_VALID_FOREVER,
      extensions: {
        [SSH_EXTENSIONS.teleportHostRole]: options.systemRole,
        [SSH_EXTENSIONS.teleportAuthority]: options.clusterName,
      },
    },
    toSigner(options.ca),
  );
}

/** Options for {@link issueOpenSshHostCert}. */
export interface IssueOpenSshHostCertOptions {
  ca: SshCaInput;
  publicKey: SshPublicKeyInput;
  /** The host names and addresses clients reach the host by; they become the principals, as given. */
  principals: readonly string[];
  clusterName: string;
  /** The `x-teleport-role` extension; default `Node`, what Teleport's `tctl auth sign --host` asks for. */
  systemRole?: string;
  /** Default: never expires. */
  expires?: Date;
  clock: Clock;
  serial?: bigint;
}

/**
 * Issues a host certificate for a host that is not a Teleport agent, e.g. an OpenSSH server (Teleport's
 * `GenerateHostCert` without a host id): the principals are exactly the given host names, the key id is empty, and
 * the extensions name the role and the cluster as on agent certificates. Clients trust it with the host CA's
 * `@cert-authority` line.
 *
 * @example
 * ```ts
 * const cert = await issueOpenSshHostCert({
 *   ca: hostCaKey, publicKey: sshdKeys.sshPublicKey, principals: ['db1.example.com', '10.0.0.7'],
 *   clusterName: 'example.com', expires, clock,
 * });
 * await writeFile('/etc/ssh/db1-cert.pub', formatSshCertificate(cert) + '\n');
 * ```
 */
export async function issueOpenSshHostCert(options: IssueOpenSshHostCertOptions): Promise<SshCertificate> {
  if (!options.clusterName) throw new BadParameterError('an SSH host certificate needs a cluster name');
  const principals = [...new Set(options.principals)];
  // A certificate without principals would be valid for every host name.
  if (principals.length === 0 || principals.some((p) => p === '')) throw new BadParameterError('an SSH host certificate needs at least one host name');
  const now = options.clock.now().getTime();
  if (options.expires && !(options.expires.getTime() > now)) throw new BadParameterError('SSH certificate expiry must be in the future');
  return signSshCertificate(
    {
      certType: 'host',
      publicKey: toPublicKey(options.publicKey),
      serial: options.serial ?? 0n,
      keyId: '',
      validPrincipals: principals,
      validAfter: toSeconds(new Date(now - SSH_CERT_BACKDATE_MS)),
      validBefore: options.expires ? toSeconds(options.expires) : SSH_CERT_VALID_FOREVER,
      extensions: {
        [SSH_EXTENSIONS.teleportHostRole]: options.systemRole ?? 'Node',
        [SSH_EXTENSIONS.teleportAuthority]: options.clusterName,
      },
    },
    toSigner(options.ca),
  );
}

/** The Teleport identity carried by an SSH user certificate. */
export interface SshUserIdentity {
  username: string;
  logins: string[];
  roles: string[];
  traits: Traits;
  routeToCluster: string | undefined;
  /** `valid before`; `undefined` when the certificate never expires. */
  expires: Date | undefined;
  permitPty: boolean;
  permitPortForwarding: boolean;
  permitAgentForwarding: boolean;
  permitX11Forwarding: boolean;
  forceCommand: string | undefined;
}

function parseJsonExtension(value: string | undefined, name: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch (cause) {
    throw new BadParameterError(`malformed certificate extension ${name}`, { cause });
  }
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Reads the Teleport identity out of a (verified) SSH user certificate.
 *
 * @example
 * ```ts
 * const { certificate } = verifySshCert(line, { ... });
 * sshUserIdentity(certificate).roles; // ['access']
 * ```
 */
export function sshUserIdentity(cert: SshCertificate): SshUserIdentity {
  if (cert.certType !== 'user') throw new BadParameterError('expected an SSH user certificate');
  const ext = cert.extensions;
  const rolesDoc = parseJsonExtension(ext[SSH_EXTENSIONS.teleportRoles], SSH_EXTENSIONS.teleportRoles);
  let roles: string[] = [];
  if (rolesDoc !== undefined) {
    const list = (rolesDoc as { roles?: unknown } | null)?.roles;
    if (!isStringArray(list)) throw new BadParameterError(`malformed certificate extension ${SSH_EXTENSIONS.teleportRoles}`);
    roles = list;
  }
  const traitsDoc = parseJsonExtension(ext[SSH_EXTENSIONS.teleportTraits], SSH_EXTENSIONS.teleportTraits);
  const traits: Traits = {};
  if (traitsDoc !== undefined && traitsDoc !== null) {
    if (typeof traitsDoc !== 'object' || Array.isArray(traitsDoc)) {
      throw new BadParameterError(`malformed certificate extension ${SSH_EXTENSIONS.teleportTraits}`);
    }
    for (const [name, values] of Object.entries(traitsDoc)) {
      if (values === null) continue;
      if (!isStringArray(values)) throw new BadParameterError(`malformed certificate extension ${SSH_EXTENSIONS.teleportTraits}`);
      traits[name] = values;
    }
  }
  return {
    username: cert.keyId,
    logins: [...cert.validPrincipals],
    roles,
    traits,
    routeToCluster: ext[SSH_EXTENSIONS.teleportRouteToCluster],
    expires: cert.validBefore === SSH_CERT_VALID_FOREVER ? undefined : new Date(Number(cert.validBefore) * 1000),
    permitPty: SSH_EXTENSIONS.permitPty in ext,
    permitPortForwarding: SSH_EXTENSIONS.permitPortForwarding in ext,
    permitAgentForwarding: SSH_EXTENSIONS.permitAgentForwarding in ext,
    permitX11Forwarding: SSH_EXTENSIONS.permitX11Forwarding in ext,
    forceCommand: cert.criticalOptions['force-command'],
  };
}
