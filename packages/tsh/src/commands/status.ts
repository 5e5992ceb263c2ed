/** `tsh status`: every logged-in profile, the current one first. */

import { NotFoundError } from '@teleport-ts/core/errors';
import { loadStatuses, type ProfileStatus } from '../profile/status.js';
import { teleportHome } from '@teleport-ts/core/profile';
import { renderStatuses } from '../render/status.js';
import { FORMAT_OPTION, type OutputFormat, type TshCommand } from './context.js';

/** Throws `ERROR: Not logged in.` (Teleport's words) when no profile has keys. */
export async function status(env: NodeJS.ProcessEnv): Promise<ProfileStatus[]> {
  const statuses = await loadStatuses(teleportHome(env));
  if (statuses.length === 0) throw new NotFoundError('Not logged in.');
  return statuses;
}

/** `tsh status [-f text|json|yaml]`. */
export const statusCommand: TshCommand<{ format: OutputFormat }, ProfileStatus[]> = {
  name: 'status',
  help: 'Display the list of proxy servers and retrieved certificates.',
  options: [FORMAT_OPTION],
  handler: async (_input, ctx) => status(ctx.env),
  render: (statuses, { opts }, ctx) => renderStatuses(statuses, opts.format, ctx.now()),
};
