/**
 * The shape of a tsh command (see `CommandDescriptor` in `@teleport-ts/core/cli` for how to add one) and the
 * function that runs one. Light on purpose: `tsh status` loads it on every start, without commander.
 */

import { writeRendered, type CommandDescriptor, type CommandGroup, type CommandInput } from '@teleport-ts/core/cli';
import type { DbSession } from './db.js';

/** tsh's global flags. */
export interface TshGlobals {
  proxy?: string;
  user?: string;
  /** Minutes, as Teleport's `--ttl`. */
  ttl?: string;
  insecure?: boolean;
  debug?: boolean;
}

/** What every tsh command gets besides its own input. */
export interface TshContext {
  env: NodeJS.ProcessEnv;
  globals: TshGlobals;
  now(): Date;
  /**
   * The current (or `--proxy`) profile with its credentials, opened on the first call and closed when the command
   * ends; the database code loads only then. `ERROR: Not logged in.` without a profile.
   */
  dbSession(): Promise<DbSession>;
}

export type TshCommand<Opts = unknown, Data = unknown> = CommandDescriptor<TshContext, Opts, Data>;
export type { CommandGroup };

/** `-f, --format text|json|yaml`, as most tsh commands take it. */
export const FORMAT_OPTION = { flags: '-f, --format <format>', description: 'Output format: text, json or yaml.', choices: ['text', 'json', 'yaml'], default: 'text' } as const;
export type OutputFormat = (typeof FORMAT_OPTION.choices)[number];

/** Runs one command: the handler, its output on stdout, then `finish`; the session (if one was opened) is closed last. */
export async function runCommand(command: TshCommand, input: CommandInput<unknown>, globals: TshGlobals): Promise<void> {
  let session: DbSession | undefined;
  const ctx: TshContext = {
    env: process.env,
    globals,
    now: () => new Date(),
    dbSession: async () => {
      const { openDbSession } = await import('./db.js');
      return (session ??= await openDbSession(globals, { env: process.env }));
    },
  };
  try {
    const data = await command.handler(input, ctx);
    writeRendered(await command.render(data, input, ctx), (chunk) => process.stdout.write(chunk));
    await command.finish?.(data, ctx);
  } finally {
    await session?.close();
  }
}
