import { isTeleportError, redact } from '../errors/index.js';

export {
  registerCommands,
  type ArgumentSpec,
  type CommandDescriptor,
  type CommandGroup,
  type CommandInput,
  type CommandNode,
  type CommandRunner,
  type OptionSpec,
  type RenderedOutput,
} from './command.js';
export { reportUnknownCommands, type UnknownCommandOptions } from './unknown.js';
export { asciiTable, asciiTableLines, headlessTable, tableCell, writeRendered, MAX_CELL_WIDTH, type TableOptions } from './table.js';

/**
 * Renders a failure the way Teleport's CLIs do: `ERROR: <message>` on one line (plus the hint), no stack
 * unless `debug`. Returns the text; the caller writes it to stderr.
 */
export function formatCliError(err: unknown, debug = false): string {
  if (debug && err instanceof Error && err.stack) return `ERROR: ${redact(err.stack)}\n`;
  const message = err instanceof Error ? err.message : String(err);
  const hint = isTeleportError(err) && err.hint ? `\n${redact(err.hint)}` : '';
  return `ERROR: ${redact(message)}${hint}\n`;
}

/** The exit status of a process killed by SIGPIPE, as the shell reports it (128 + 13). */
const SIGPIPE_STATUS = 141;

/**
 * A reader that stops early (`tsh ls | head -3`) closes stdout's pipe: the next write fails with EPIPE. Teleport's Go
 * CLIs die of SIGPIPE then, silently; Node ignores that signal and would throw the error with a stack trace. Ends the
 * process the same silent way, with SIGPIPE's status; any other stdout error is still reported.
 */
function exitQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(SIGPIPE_STATUS);
    process.stderr.write(formatCliError(err));
    process.exit(1);
  });
}

/** Runs a CLI main function: prints `ERROR: ...` and sets exit code 1 on failure. */
export async function runCli(main: () => Promise<void>, argv: readonly string[] = process.argv): Promise<void> {
  const debug = argv.includes('-d') || argv.includes('--debug');
  exitQuietlyOnClosedStdout();
  try {
    await main();
  } catch (err) {
    process.stderr.write(formatCliError(err, debug));
    process.exitCode = 1;
  }
}

interface CommanderLike {
  exitOverride(fn?: (err: { code: string; message: string; exitCode: number }) => never | void): unknown;
  configureOutput(o: { writeErr?: (s: string) => void; outputError?: (s: string, write: (s: string) => void) => void }): unknown;
  showHelpAfterError(v?: boolean | string): unknown;
  option(flags: string, description?: string): unknown;
}

/**
 * Applies the shared CLI conventions to a commander program: `-d/--debug`, and parse errors
 * (unknown flag, missing argument) reported as one `ERROR:` line with exit code 1.
 */
export function configureCommander<T extends CommanderLike>(program: T): T {
  program.option('-d, --debug', 'Verbose logging to stdout.');
  program.configureOutput({
    outputError: (s, write) => write(`ERROR: ${s.replace(/^error: /, '').trimEnd()}\n`),
  });
  program.exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
      process.exit(0);
    }
    process.exit(1);
  });
  return program;
}
