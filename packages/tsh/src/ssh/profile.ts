/**
 * What the SSH commands read from the profile: the user's TLS credentials (for the proxy), the SSH key and
 * certificate (for the node), the cluster's SSH host CA keys from `known_hosts` (to verify nodes, never trusting one
 * on first use), and the proxy to dial.
 */

import { readFile } from 'node:fs/promises';
import { BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import {
  currentProfileName,
  keyPaths,
  knownHostsPath,
  profileName,
  readProfile,
  readTlsCredentials,
  teleportHome,
  type Profile,
  type TlsCredentials,
} from '@teleport-ts/core/profile';
import { loadStatuses, type ProfileStatus } from '../profile/status.js';
import { parseProxyAddr, type ProxyTarget } from '../webclient.js';

export interface SshGlobals {
  proxy?: string;
  insecure?: boolean;
  debug?: boolean;
}

export interface SshProfile {
  home: string;
  profile: Profile;
  status: ProfileStatus;
  creds: TlsCredentials;
  paths: ReturnType<typeof keyPaths>;
  /** The proxy to dial: `--proxy` when given, else the profile's. */
  proxy: ProxyTarget;
  insecure: boolean;
  /** `--debug`: a line on stderr when the host CAs are refreshed. */
  debug?: boolean;
  knownHostsPath: string;
}

/** Opens the current (or `--proxy`) profile; `ERROR: Not logged in.` without one, and refuses an expired login. */
export async function openSshProfile(globals: SshGlobals, env: NodeJS.ProcessEnv, now: Date = new Date()): Promise<SshProfile> {
  const home = teleportHome(env);
  const proxyText = globals.proxy ?? (env['TELEPORT_PROXY'] || undefined);
  const given = proxyText === undefined ? undefined : parseProxyAddr(proxyText);
  const name = given !== undefined ? profileName(given.addr) : await currentProfileName(home);
  const profile = name === undefined ? undefined : await readProfile(home, name);
  const creds = profile === undefined ? undefined : await readTlsCredentials(home, profile);
  const status = profile === undefined ? undefined : (await loadStatuses(home)).find((s) => s.webProxyAddr === profile.web_proxy_addr);
  if (profile === undefined || creds === undefined || status === undefined) throw new NotFoundError('Not logged in.');
  if (status.validUntil !== undefined && status.validUntil.getTime() <= now.getTime()) {
    throw new BadParameterError('Your Teleport certificate has expired, please re-login with tsh login.');
  }
  return {
    home,
    profile,
    status,
    creds,
    paths: creds.paths,
    proxy: given ?? parseProxyAddr(profile.ssh_proxy_addr),
    insecure: globals.insecure === true,
    debug: globals.debug === true,
    knownHostsPath: knownHostsPath(home),
  };
}

/**
 * The SSH host CA keys `known_hosts` trusts for `cluster` (`@cert-authority` lines whose hosts include
 * `*.<cluster>`), as `type base64` lines. None is an error: tsh does not trust a node's key on first use.
 */
export async function readHostCaKeys(sshProfile: SshProfile, cluster: string): Promise<string[]> {
  let text = '';
  try {
    text = await readFile(sshProfile.knownHostsPath, 'utf8');
  } catch {
    // Missing: the error below says what to do.
  }
  const keys: string[] = [];
  for (const line of text.split('\n')) {
    const [marker, hosts, type, blob] = line.trim().split(/\s+/);
    if (marker !== '@cert-authority' || hosts === undefined || type === undefined || blob === undefined) continue;
    if (hosts.split(',').includes(`*.${cluster}`)) keys.push(`${type} ${blob}`);
  }
  if (keys.length === 0) {
    throw new NotFoundError(`no SSH host CA of cluster "${cluster}" in ${sshProfile.knownHostsPath}`, { hint: 'log in again with tsh login' });
  }
  return keys;
}

/** `[user@]host[:port]`, as `tsh proxy ssh` and `tsh ssh` take it. */
export interface UserHostPort {
  user?: string;
  host: string;
  port?: number;
}

/** Splits `[user@]host[:port]` (`[v6]:port` too). The user is everything before the last `@`. */
export function parseUserHostPort(text: string, what = 'target'): UserHostPort {
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : undefined;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  const plain = bracket ? undefined : /^([^:]*)(?::(\d+))?$/.exec(rest);
  // A bare IPv6 address has no port; anything else with a colon must be host:port.
  const host = bracket?.[1] ?? plain?.[1] ?? (rest.split(':').length > 2 ? rest : '');
  const portText = bracket?.[2] ?? plain?.[2];
  const port = portText === undefined ? undefined : Number(portText);
  if (host === '' || (port !== undefined && !(port > 0 && port < 65536)) || user === '') {
    throw new BadParameterError(`invalid ${what} ${JSON.stringify(text.slice(0, 256))}, expected [user@]host[:port]`);
  }
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

/**
 * Teleport's rule for names OpenSSH hands `tsh proxy ssh` through `tsh config` (`node.<cluster>`): the proxy's
 * host and then the cluster's name are removed from the end.
 */
export function cleanTargetHost(host: string, proxyHost: string, cluster: string): string {
  let out = host;
  if (out.endsWith(`.${proxyHost}`)) out = out.slice(0, -proxyHost.length - 1);
  if (out.endsWith(`.${cluster}`)) out = out.slice(0, -cluster.length - 1);
  return out;
}
