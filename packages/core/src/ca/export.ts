/**
 * The text formats a cluster's CA public keys are exported in (`tctl auth export`, the proxy's public
 * `/webapi/auth/export`): SSH CAs as `authorized_keys` lines (`cert-authority <key> clustername=<c>&type=user`) and
 * `known_hosts` lines (`@cert-authority <c>,*.<c> <key> type=host`), TLS CAs as PEM. Public keys only: nothing here
 * reads a private key.
 */

import type { CertAuthority } from './authority.js';

/** Go's `url.QueryEscape`: everything but unreserved characters is %-escaped, spaces become `+`. */
export function queryEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

/** `type base64` of an `authorized_keys` line, without any comment. */
export function bareKey(publicKeyLine: string): string {
  return publicKeyLine.trim().split(/\s+/).slice(0, 2).join(' ');
}

/** Teleport's `MarshalAuthorizedKeysFormat`: the line sshd's `authorized_keys` (and, stripped, `TrustedUserCAKeys`) reads. */
export function userCaLine(clusterName: string, publicKeyLine: string): string {
  return `cert-authority ${bareKey(publicKeyLine)} clustername=${queryEscape(clusterName)}&type=user\n`;
}

/** Teleport's `MarshalKnownHost`: the `known_hosts` line that trusts host certificates of the cluster. */
export function hostCaLine(clusterName: string, publicKeyLine: string): string {
  return `@cert-authority ${clusterName},*.${clusterName} ${bareKey(publicKeyLine)} type=host\n`;
}

/**
 * One line per SSH key `ca` trusts (active keys, then the additional trusted ones: during a rotation both the old
 * and the new key), as `known_hosts` lines for a host CA and `authorized_keys` lines for any other.
 */
export function sshCaExportLines(ca: CertAuthority): string {
  const clusterName = ca.spec.cluster_name;
  let text = '';
  for (const pair of [...ca.spec.active_keys.ssh, ...ca.spec.additional_trusted_keys.ssh]) {
    text += ca.spec.type === 'host' ? hostCaLine(clusterName, pair.public_key) : userCaLine(clusterName, pair.public_key);
  }
  return text;
}

/** The PEM certificates of `ca`'s active TLS keys, each ending with a newline. */
export function tlsCaExportPem(ca: CertAuthority): string {
  return ca.spec.active_keys.tls.map((k) => (k.cert.endsWith('\n') ? k.cert : `${k.cert}\n`)).join('');
}
