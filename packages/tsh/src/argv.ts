/**
 * `tsh ssh host ls -l`: everything after the host is the remote command, flags included, as with Teleport's tsh
 * (kingpin's non-interspersed `ssh`) and OpenSSH's ssh. commander would read `-l` as tsh's own flag, so the
 * command line gets a `--` after the host before commander sees it.
 */

import type { OptionSpec } from '@teleport-ts/core/cli';

/** The flags (`-l`, `--login`) of `specs` that take a value. */
export function valueFlags(specs: readonly OptionSpec[]): Set<string> {
  const out = new Set<string>();
  for (const spec of specs) {
    if (!/[<[]/.test(spec.flags)) continue;
    for (const m of spec.flags.matchAll(/(^|[\s,])(--?[A-Za-z][\w-]*)/g)) out.add(m[2]!);
  }
  return out;
}

/** Index of the first positional argument at or after `from`, skipping flags and the values of `takesValue` flags. */
function firstPositional(argv: readonly string[], from: number, takesValue: Set<string>): number {
  for (let i = from; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return -1;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (arg.includes('=')) continue;
    // `-lroot` carries its value; `-l root` takes the next word.
    const short = /^-[A-Za-z]$/.test(arg);
    if (takesValue.has(arg) && (short || arg.startsWith('--'))) i++;
  }
  return -1;
}

/**
 * Returns `argv` (`[node, script, ...args]`) with `--` inserted after the first positional argument of `command`
 * (the host of `tsh ssh`), unless the user already wrote one before it.
 */
export function stopFlagsAfterHost(argv: readonly string[], command: string, takesValue: Set<string>): string[] {
  const sub = firstPositional(argv, 2, takesValue);
  if (sub < 0 || argv[sub] !== command) return [...argv];
  const host = firstPositional(argv, sub + 1, takesValue);
  if (host < 0 || host === argv.length - 1 || argv[host + 1] === '--') return [...argv];
  return [...argv.slice(0, host + 1), '--', ...argv.slice(host + 1)];
}
