/**
 * Dynamic labels of a node (`ssh_service.commands`, Teleport's `cmd_labels`): each command runs every `period`
 * (without a shell, with a deadline) and its trimmed output becomes the label's value; a failure gives the value
 * Teleport gives, the error text. A change makes the node heartbeat at once.
 */

import { execFile } from 'node:child_process';
import type { CommandLabelConfig } from '@teleport-ts/core/config';
import { formatDuration, parseDuration, type CommandLabel } from '@teleport-ts/core/types';

/** The longest a label command may run. */
const COMMAND_TIMEOUT_MS = 10_000;
/** The most output a label keeps. */
const MAX_OUTPUT_BYTES = 4096;

export interface DynamicLabels {
  /** Resolves once every command ran once. */
  readonly firstRun: Promise<void>;
  /** The labels now, in the node resource's `cmd_labels` form. */
  current(): Record<string, CommandLabel>;
  close(): void;
}

function runOnce(command: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command[0]!, command.slice(1), { timeout: COMMAND_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES }, (err, stdout) => {
      if (err) resolve(`error: ${(err as NodeJS.ErrnoException).code ?? err.message}`.slice(0, 256));
      else resolve(String(stdout).trim());
    });
  });
}

/**
 * @example
 * ```ts
 * const labels = startDynamicLabels([{ name: 'arch', command: ['uname', '-m'], period: '1h' }], () => beats.now());
 * await labels.firstRun;
 * labels.current(); // { arch: { period: '1h0m0s', command: ['uname', '-m'], result: 'x86_64' } }
 * ```
 */
export function startDynamicLabels(commands: readonly CommandLabelConfig[], onChange: () => void): DynamicLabels {
  const results = new Map<string, CommandLabel>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const run = async (c: CommandLabelConfig, periodMs: number): Promise<void> => {
    const result = await runOnce(c.command);
    if (closed) return;
    const before = results.get(c.name)?.result;
    results.set(c.name, { period: formatDuration(periodMs), command: [...c.command], result });
    if (before !== undefined && before !== result) onChange();
    const timer = setTimeout(() => {
      timers.delete(timer);
      void run(c, periodMs);
    }, periodMs);
    timer.unref();
    timers.add(timer);
  };
  const firstRun = Promise.all(commands.map((c) => run(c, parseDuration(c.period)))).then(() => undefined);
  return {
    firstRun,
    current: () => Object.fromEntries(results),
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
