/** `tsh status`: every logged-in profile, the current one first. */

import { NotFoundError } from '@teleport-ts/core/errors';
import { loadStatuses, type ProfileStatus } from '../profile/status.js';
import { teleportHome } from '@teleport-ts/core/profile';

/** Throws `ERROR: Not logged in.` (Teleport's words) when no profile has keys. */
export async function status(env: NodeJS.ProcessEnv): Promise<ProfileStatus[]> {
  const statuses = await loadStatuses(teleportHome(env));
  if (statuses.length === 0) throw new NotFoundError('Not logged in.');
  return statuses;
}
