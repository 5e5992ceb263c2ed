/** `tsh logout`: removes every key and certificate, as Teleport's `tsh logout` without `--proxy`/`--user`. */

import { removeAllKeys, teleportHome } from '@teleport-ts/core/profile';

/** Returns the line to print. */
export async function logout(env: NodeJS.ProcessEnv): Promise<string> {
  const removed = await removeAllKeys(teleportHome(env));
  return removed === 0 ? 'All users logged out.' : 'Logged out all users from all proxies.';
}
