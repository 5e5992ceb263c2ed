import { joinCluster, loadIdentity, writeIdentity, type Identity, type JoinClusterOptions } from '@teleport-ts/core/api';
import { BadParameterError, isNotFound } from '@teleport-ts/core/errors';
import type { Logger } from '../logger.js';

/** How an agent joins: `--token` (a secret), `--auth-server`, `--ca-pin`. */
interface JoinFlags {
  token?: string;
  authServer?: string;
  caPins: readonly string[];
}

export interface LoadOrJoinOptions {
  /** Where the identity is kept, e.g. `<data_dir>/db`. */
  dir: string;
  join: JoinFlags;
  /** The error when a join is needed and a flag is missing. */
  missingFlags: { message: string; hint: string };
  /** Who joins: role, host UUID, node name and the rest of `joinCluster`'s options. */
  register: Omit<JoinClusterOptions, 'authAddr' | 'token' | 'caPins'>;
  logger: Logger;
  /** Logged once joined, e.g. `database service joined the cluster`. */
  joinedMessage: string;
}

/**
 * The identity an agent keeps in `dir`: loaded when the agent joined before (a restart needs no token), else
 * obtained by joining with the token and CA pin (no trust on first use) and written there.
 */
export async function loadOrJoinIdentity(options: LoadOrJoinOptions): Promise<Identity> {
  try {
    return await loadIdentity(options.dir);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const { token, authServer, caPins } = options.join;
  if (!authServer || !token || caPins.length === 0) {
    throw new BadParameterError(options.missingFlags.message, { hint: options.missingFlags.hint });
  }
  const identity = await joinCluster({ ...options.register, authAddr: authServer, token, caPins });
  await writeIdentity(options.dir, identity);
  options.logger.info(options.joinedMessage, { auth_server: authServer });
  return identity;
}
