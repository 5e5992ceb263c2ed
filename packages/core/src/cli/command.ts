/**
 * Command descriptors, pnpm's habit: a command module declares what the command is (name, help, arguments, flags)
 * and two functions, a handler that returns data and a renderer that turns the data into output. The program
 * registers a list of them in one loop ({@link registerCommands}) and decides how to run one (connect, print,
 * close). Handlers never print, so they are tested without a terminal; renderers are pure.
 *
 * This file must stay free of imports: `tsh` loads it on every start.
 */

/** What a renderer returns (`table.ts` writes it): text, bytes, or text produced line by line. */
export type RenderedOutput = string | Uint8Array | Iterable<string>;

/** A positional argument in commander's syntax: `<account>` (required) or `[db]` (optional). */
export interface ArgumentSpec {
  name: string;
  description: string;
}

/** A flag in commander's syntax (`-f, --format <format>`, `--overwrite`), with Teleport's flag names. */
export interface OptionSpec {
  flags: string;
  description?: string;
  /** Shown in help as `(default: ...)`. */
  default?: string | boolean;
  /** Refuses other values at parse time, listed in help. */
  choices?: readonly string[];
  /** Accepted but left out of help. */
  hidden?: boolean;
  /** Repeatable flag: every use appends, giving a `string[]`. */
  repeatable?: boolean;
}

/** What commander parsed: positional arguments in declaration order, and the command's own flags. */
export interface CommandInput<Opts> {
  args: readonly (string | undefined)[];
  opts: Opts;
}

/**
 * One command. `Ctx` is what the CLI hands every command (tctl: the auth client, opened on first use; tsh: the
 * profile); `Opts` the parsed flags; `Data` what the handler returns and the renderer reads.
 *
 * To add a command: write a module that exports a descriptor, then add it to the program's list (for a
 * subcommand, after its {@link CommandGroup}). Check the input before touching the network, so bad input fails
 * fast and never half-does anything.
 *
 * @example
 * ```ts
 * // packages/tctl/src/commands/requests.ts
 * export const requestsGroup: CommandGroup = { name: 'requests', help: 'Manage access requests.' };
 * export const requestsLs: TctlCommand<{ format: string }, AccessRequest[]> = {
 *   name: 'requests ls',
 *   help: 'Show active access requests.',
 *   options: [{ flags: '--format <format>', description: "Output format, 'text' or 'json'.", default: 'text' }],
 *   async handler({ opts }, ctx) {
 *     parseFormat(opts.format, ['text', 'json'], 'text'); // the input first, then the network
 *     return (await ctx.api()).getAccessRequests();
 *   },
 *   render: (requests, { opts }) => (opts.format === 'json' ? toJson(requests) : asciiTable(['ID', 'User'], rows(requests))),
 * };
 * // packages/tctl/src/program.ts
 * const COMMANDS = [..., requestsGroup, requestsLs];
 * ```
 */
export interface CommandDescriptor<Ctx, Opts = unknown, Data = unknown> {
  /** The words that call it from the program root: `'status'`, `'users add'`. */
  name: string;
  aliases?: readonly string[];
  /** One line for `--help`. */
  help: string;
  args?: readonly ArgumentSpec[];
  options?: readonly OptionSpec[];
  handler(input: CommandInput<Opts>, ctx: Ctx): Promise<Data>;
  /**
   * The output for the data: text, bytes (DER), or lines produced as they are written (a long table: see
   * `asciiTableLines`). `''` prints nothing. It may return a promise, so that a CLI which loads command code on
   * use can load a renderer with it.
   */
  render(data: Data, input: CommandInput<Opts>, ctx: Ctx): RenderedOutput | Promise<RenderedOutput>;
  /** Runs after the output is written: a long-running command (a local proxy) waits here, then cleans up. */
  finish?(data: Data, ctx: Ctx): Promise<void>;
}

/** A command that only holds subcommands (`users`, `tsh db`): its name and its line in `--help`. */
export interface CommandGroup {
  name: string;
  help: string;
}

/** What a CLI does with a descriptor once commander has parsed its command line. */
export type CommandRunner<Ctx> = (command: CommandDescriptor<Ctx>, input: CommandInput<unknown>, globals: Record<string, unknown>) => Promise<void>;

/** The parts of commander's `Option` the loop uses (core does not depend on commander). */
interface OptionLike {
  default(value: unknown): unknown;
  choices(values: readonly string[]): unknown;
  hideHelp(): unknown;
  argParser(fn: (value: string, previous: string[] | undefined) => string[]): unknown;
}

/** The parts of commander's `Command` the loop uses. */
export interface CommandNode {
  command(name: string): CommandNode;
  description(text: string): unknown;
  alias(alias: string): unknown;
  argument(name: string, description?: string): unknown;
  createOption(flags: string, description?: string): OptionLike;
  addOption(option: never): unknown;
  action(fn: (...args: unknown[]) => void | Promise<void>): unknown;
  optsWithGlobals(): Record<string, unknown>;
}

function isCommand<Ctx>(entry: CommandDescriptor<Ctx> | CommandGroup): entry is CommandDescriptor<Ctx> {
  return 'handler' in entry;
}

function appendValue(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function addOption(node: CommandNode, spec: OptionSpec): void {
  const option = node.createOption(spec.flags, spec.description);
  if (spec.choices !== undefined) option.choices(spec.choices);
  if (spec.default !== undefined) option.default(spec.default);
  if (spec.repeatable) option.argParser(appendValue);
  if (spec.hidden) option.hideHelp();
  node.addOption(option as never);
}

/**
 * Adds commands and groups to a commander program, in list order (the order of `--help`). A group must come
 * before its subcommands. Each command's action hands the parsed input and the global flags to `run`.
 */
export function registerCommands<Ctx>(program: CommandNode, entries: readonly (CommandDescriptor<Ctx> | CommandGroup)[], run: CommandRunner<Ctx>): void {
  const nodes = new Map<string, CommandNode>([['', program]]);
  for (const entry of entries) {
    const words = entry.name.split(' ');
    const parent = nodes.get(words.slice(0, -1).join(' '));
    if (parent === undefined) throw new TypeError(`register the group of "${entry.name}" before it`);
    const node = parent.command(words[words.length - 1]!);
    node.description(entry.help);
    nodes.set(entry.name, node);
    if (!isCommand(entry)) continue;
    for (const alias of entry.aliases ?? []) node.alias(alias);
    for (const arg of entry.args ?? []) node.argument(arg.name, arg.description);
    for (const option of entry.options ?? []) addOption(node, option);
    // commander calls the action with the arguments, then the command's flags, then the command itself.
    node.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as CommandNode;
      const input = { args: params.slice(0, -2) as (string | undefined)[], opts: params[params.length - 2] };
      await run(entry, input, command.optsWithGlobals());
    });
  }
}
