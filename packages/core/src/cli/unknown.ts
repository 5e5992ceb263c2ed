/**
 * What the CLIs say for a command they do not have: Teleport's own words for a word that is no command
 * (`expected command but got "foo"`), and one plain line for a real Teleport command this implementation does not
 * have yet (`tctl nodes ls`), instead of commander's closest-match guess ("Did you mean tokens?").
 */

import { BadParameterError, NotImplementedError } from '../errors/index.js';

/** The parts of commander's `Command` used here (core does not depend on commander). */
interface CommandTreeNode {
  readonly commands: readonly CommandTreeNode[];
  name(): string;
  on(event: string, listener: (operands: string[]) => void): unknown;
}

export interface UnknownCommandOptions {
  /** `tsh` or `tctl`, for the message. */
  tool: string;
  /** Teleport commands not implemented here, by their words from the root: `nodes`, `db rm`. */
  notImplemented: readonly string[];
}

function attach(node: CommandTreeNode, path: readonly string[], options: UnknownCommandOptions): void {
  node.on('command:*', (operands) => {
    const word = operands[0] ?? '';
    const words = [...path, word].join(' ');
    if (options.notImplemented.includes(words)) {
      throw new NotImplementedError(`"${options.tool} ${words}" is a Teleport command that teleport-ts does not implement yet`);
    }
    throw new BadParameterError(`expected command but got ${JSON.stringify(word)}`);
  });
  for (const child of node.commands) {
    if (child.commands.length > 0) attach(child, [...path, child.name()], options);
  }
}

/**
 * Makes every command that holds subcommands (the program included) answer an unknown word with one `ERROR:`
 * line and exit 1: call it after the commands are registered.
 *
 * @example
 * ```ts
 * reportUnknownCommands(program, { tool: 'tctl', notImplemented: ['nodes', 'apps'] });
 * // tctl nodes ls  ->  ERROR: "tctl nodes" is a Teleport command that teleport-ts does not implement yet
 * // tctl frobnicate ->  ERROR: expected command but got "frobnicate"
 * ```
 */
export function reportUnknownCommands(program: CommandTreeNode, options: UnknownCommandOptions): void {
  attach(program, [], options);
}
