/**
 * The nodes a label selector (`tsh ssh root@env=dev cmd`) names: the user's visible nodes from the auth API (through
 * the proxy's `teleport-auth` passthrough, with the user's TLS certificate), filtered by every `key=value` given.
 */

import { BadParameterError, NotImplementedError } from '@teleport-ts/core/errors';
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

/** The nodes matching every label of `selector`. Needs the node listing API, which this build does not have yet. */
export async function selectNodes(_sshProfile: SshProfile, _selector: Record<string, string>): Promise<SelectedNode[]> {
  throw new NotImplementedError('running a command on nodes matching labels needs the node listing, which this tsh does not have yet');
}
