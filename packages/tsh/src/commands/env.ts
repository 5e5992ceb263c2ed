/** `tsh env`: shell lines pointing later commands at the current profile's proxy and cluster. */

import { NotFoundError } from '@teleport-ts/core/errors';
import { loadStatuses } from '../profile/status.js';
import { teleportHome } from '@teleport-ts/core/profile';

export const ENV_PROXY = 'TELEPORT_PROXY';
export const ENV_CLUSTER = 'TELEPORT_CLUSTER';

/** The variables to export, from the current profile. */
export async function environment(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const active = (await loadStatuses(teleportHome(env))).find((s) => s.active);
  if (!active) throw new NotFoundError('Not logged in.');
  return { [ENV_PROXY]: active.webProxyAddr, [ENV_CLUSTER]: active.cluster };
}

/** `export NAME=value` lines, or `unset NAME` lines. */
export function renderEnv(vars: Record<string, string>, unset: boolean): string {
  return Object.entries(vars)
    .map(([k, v]) => (unset ? `unset ${k}` : `export ${k}=${v}`))
    .join('\n')
    .concat('\n');
}
