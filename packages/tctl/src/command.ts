/**
 * The shape of a tctl command (see `CommandDescriptor` in `@teleport-ts/core/cli` for how to add one): each
 * module under `commands/` exports descriptors, and `program.ts` lists them.
 */

import type { CommandDescriptor, CommandGroup } from '@teleport-ts/core/cli';
import type { ConnectedApi } from './connect.js';
import type { GlobalOptions } from './connection.js';

/** What every tctl command gets besides its own input. */
export interface TctlContext {
  /**
   * The auth client for the global flags, connected on the first call and closed when the command ends. Call it
   * after checking the input: bad input then fails without depending on the server and never half-creates anything.
   */
  api(): Promise<ConnectedApi>;
  /** `-c`, `--auth-server`, `-i`, `-d`. */
  globals: GlobalOptions;
  now(): Date;
  readStdin(): Promise<string>;
}

export type TctlCommand<Opts = unknown, Data = unknown> = CommandDescriptor<TctlContext, Opts, Data>;
export type { CommandGroup };
