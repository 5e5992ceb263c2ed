/**
 * After a host CA rotation, nodes present host certificates from the new CA while `known_hosts` still holds only the
 * keys of the last login. Instead of refusing every node until the user logs in again, tsh asks the proxy for the
 * host CA keys it trusts now (`GET /webapi/auth/export?type=host`, public keys, verified as every web API call),
 * writes them for the profile's cluster, and retries the connection once.
 *
 * Only keys the proxy sent are trusted, only for `*.<cluster>` of the profile's cluster, and only when the node was
 * refused for its CA alone (`ERR_TP_SSH_UNTRUSTED_CA`); a retry that fails again reports the first refusal.
 */

import { isSshKeyType, parseAuthorizedKeyLine } from '@teleport-ts/core/ca';
import { isTeleportError } from '@teleport-ts/core/errors';
import { saveHostCaKeys } from '@teleport-ts/core/profile';
import { parseProxyAddr, proxyTextRequest } from '../webclient.js';
import type { SshProfile } from './profile.js';

/** Largest export answer read (a host CA has two or three keys, each line under 1 KiB). */
const MAX_EXPORT_BYTES = 64 * 1024;
/** Most lines an export answer may have. */
export const MAX_EXPORT_LINES = 64;
/** Time allowed for the export request. */
const EXPORT_TIMEOUT_MS = 10_000;

/** True when `type blob` is a public key line of a type we support whose blob names the same type. */
function isKeyLine(type: string, blob: string): boolean {
  if (!isSshKeyType(type)) return false;
  try {
    parseAuthorizedKeyLine(`${type} ${blob}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The host CA keys (`type base64`) of `cluster` in an export answer: `@cert-authority <cluster>,*.<cluster> <type>
 * <base64> type=host` lines. Lines for other hosts are ignored; a malformed line, or more than
 * {@link MAX_EXPORT_LINES}, refuses the whole answer.
 */
export function parseHostCaExport(text: string, cluster: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length > MAX_EXPORT_LINES) throw new Error(`the proxy sent ${lines.length} lines, more than ${MAX_EXPORT_LINES}`);
  const keys: string[] = [];
  for (const line of lines) {
    const [marker, hosts, type, blob, ...rest] = line.split(/\s+/);
    if (marker !== '@cert-authority' || hosts === undefined || type === undefined || blob === undefined || rest.length > 1 || (rest.length === 1 && rest[0] !== 'type=host')) {
      throw new Error('the proxy sent a line that is not a known_hosts @cert-authority line');
    }
    if (!hosts.split(',').includes(`*.${cluster}`)) continue;
    if (!isKeyLine(type, blob)) throw new Error(`the proxy sent a malformed ${type.slice(0, 32)} key`);
    const key = `${type} ${blob}`;
    if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}

/** Asks the profile's proxy for its cluster's host CA keys. */
async function fetchHostCaKeys(sshProfile: SshProfile, cluster: string): Promise<string[]> {
  const target = parseProxyAddr(sshProfile.profile.web_proxy_addr);
  const text = await proxyTextRequest(target, '/webapi/auth/export?type=host', { insecure: sshProfile.insecure, timeoutMs: EXPORT_TIMEOUT_MS, maxBytes: MAX_EXPORT_BYTES });
  return parseHostCaExport(text, cluster);
}

const sameKeys = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((k) => b.includes(k));

/**
 * The host CA keys the proxy trusts for `cluster` now, written to `known_hosts` in place of the profile's when they
 * differ from `current`. `undefined` when there is nothing to refresh: another cluster than the proxy's own (it
 * exports its own CAs only), or an empty answer.
 */
export async function refreshHostCaKeys(
  sshProfile: SshProfile,
  cluster: string,
  current: readonly string[],
  fetch: (sshProfile: SshProfile, cluster: string) => Promise<string[]> = fetchHostCaKeys,
): Promise<string[] | undefined> {
  if (cluster !== sshProfile.profile.site_name) return undefined;
  const keys = await fetch(sshProfile, cluster);
  if (keys.length === 0) return undefined;
  if (!sameKeys(keys, current)) await saveHostCaKeys(sshProfile.home, sshProfile.profile, keys);
  return keys;
}

/** A refusal of the node's host certificate because no CA in `known_hosts` signed it (and for no other reason). */
function isUntrustedHostCa(err: unknown): boolean {
  return isTeleportError(err) && err.code === 'ERR_TP_SSH_UNTRUSTED_CA';
}

/**
 * Runs `attempt` with `keys`; when the node's host certificate is from a CA they do not hold, refreshes them with
 * `refresh` and runs `attempt` once more with the new keys. No retry when the refresh fails or brings the same keys;
 * when anything goes wrong after the first refusal, that refusal is what the caller gets.
 */
export async function withHostCaRefresh<T>(
  keys: readonly string[],
  attempt: (keys: readonly string[]) => Promise<T>,
  refresh: (current: readonly string[]) => Promise<readonly string[] | undefined>,
  debug: (message: string) => void = () => {},
): Promise<T> {
  try {
    return await attempt(keys);
  } catch (err) {
    if (!isUntrustedHostCa(err)) throw err;
    let fresh: readonly string[] | undefined;
    try {
      fresh = await refresh(keys);
    } catch (refreshErr) {
      debug(`could not refresh the host CAs from the proxy: ${(refreshErr as Error).message}`);
      throw err;
    }
    if (fresh === undefined || sameKeys(fresh, keys)) {
      debug('the proxy trusts no other host CA key than known_hosts holds');
      throw err;
    }
    debug(`refreshed the host CAs from the proxy (${fresh.length} keys), retrying`);
    try {
      return await attempt(fresh);
    } catch {
      throw err;
    }
  }
}
