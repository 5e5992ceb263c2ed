/** `tsh logout`: removes every key and certificate, as Teleport's `tsh logout` without `--proxy`/`--user`. */

import { removeAllKeys, teleportHome } from '@teleport-ts/core/profile';
import type { TshCommand } from './context.js';

/** Returns how many profiles were removed. */
async function logout(env: NodeJS.ProcessEnv): Promise<number> {
  return removeAllKeys(teleportHome(env));
}

function renderLogout(removed: number): string {
  return removed === 0 ? 'All users logged out.\n' : 'Logged out all users from all proxies.\n';
}

export const logoutCommand: TshCommand<object, number> = {
  name: 'logout',
  help: 'Delete a cluster certificate.',
  handler: async (_input, ctx) => logout(ctx.env),
  render: (removed) => renderLogout(removed),
};
