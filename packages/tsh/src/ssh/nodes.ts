/**
 * The nodes a label selector (`tsh ssh root@env=dev cmd`) names: the user's visible nodes from the auth API (through
 * the proxy's `teleport-auth` passthrough, with the user's TLS certificate), filtered by every `key=value` given.
 */

import { AUTH_VIA_PROXY_ALPN, newAuthClient } from '@teleport-ts/core/api';
import { BadParameterError } from '@teleport-ts/core/errors';
import type { NodeServer } from '@teleport-ts/core/types';
import type { SshProfile } from './profile.js';

/** A node as the multi-node run needs it. */
export interface SelectedNode {
  /** The node's UUID (what the proxy is asked for). */
  name: string;
  hostname: string;
}

/** `env=dev,team=db` as a map; a key without `=` or an empty key is refused. */
export function parseLabelSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || key === '') throw new BadParameterError(`invalid label selector ${JSON.stringify(text)}, expected key=value[,key=value...]`);
    out[key] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Static labels and the current values of dynamic ones. */
function nodeLabels(node: NodeServer): Record<string, string> {
  const labels: Record<string, string> = { ...(node.metadata.labels ?? {}) };
  for (const [key, label] of Object.entries(node.spec.cmd_labels ?? {})) labels[key] = label.result;
  return labels;
}

/** The nodes matching every label of `selector`, by hostname. */
export async function selectNodes(sshProfile: SshProfile, selector: Record<string, string>): Promise<SelectedNode[]> {
  const client = newAuthClient({
    addr: sshProfile.proxy.addr,
    tls: { key: sshProfile.creds.key, cert: sshProfile.creds.cert, ca: sshProfile.creds.caCerts },
    alpnProtocols: AUTH_VIA_PROXY_ALPN,
    peer: `proxy ${sshProfile.proxy.addr}`,
    hints: { refused: 'is the proxy running, and is --proxy right?', verify: 'log in again with tsh login' },
  });
  try {
    const nodes = await client.getNodes();
    return nodes
      .filter((node) => {
        const labels = nodeLabels(node);
        return Object.entries(selector).every(([k, v]) => labels[k] === v);
      })
      .map((node) => ({ name: node.metadata.name, hostname: node.spec.hostname }))
      .sort((a, b) => a.hostname.localeCompare(b.hostname));
  } finally {
    await client.close();
  }
}
