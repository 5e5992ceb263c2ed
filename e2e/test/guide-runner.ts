/**
 * Runs a markdown guide as a newcomer would: its shell blocks in order, in one shell whose state (variables, the
 * current directory) carries from block to block, long-running commands in their own "terminals".
 *
 * What the guide's markdown means here:
 * - a ```` ```sh ```` block is a script, run as one unit with `set -e`; its output is not compared;
 * - a ```` ```console ```` block holds commands (`$ ` lines, `\` continues a line) each followed by the output it
 *   prints (stdout and stderr together). Output with an `ERROR:` or `psql: error:` line must come with a non-zero
 *   exit code, any other with zero;
 * - any other block (```` ``` ````, ```` ```yaml ````) is not run;
 * - an HTML comment `<!-- guide-test: ... -->` directs the next block (invisible to a reader):
 *   `skip` (not run, e.g. the install the test command has done), `terminal` (a long-running command: the test
 *   waits until its stdout starts with the output shown, the structured logs on stderr being left out as the
 *   guide says, and stops it with SIGINT, as Ctrl-C, at `stop-terminals` or at the end), `input=password,otp` (answers to prompts, one a line), `invite` (completes the invite link that
 *   the last command printed, as the browser page does), `stop-terminals` (before the next block), `retry` (the
 *   command is repeated for up to 5 s until its output matches, for state that other processes pick up on their
 *   own schedule).
 *
 * Values that change between runs are replaced by placeholders on both sides before outputs are compared:
 * {@link normalizeOutput}.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type GuideStep =
  | { kind: 'script'; text: string; line: number; directives: string[] }
  | { kind: 'command'; command: string; expected: string; line: number; directives: string[] }
  | { kind: 'directive'; directive: string; line: number };

const DIRECTIVE = /^<!--\s*guide-test:\s*(.*?)\s*-->\s*$/;

/** The guide's steps in order. Directives before a block apply to it; `invite` and `stop-terminals` are steps. */
export function parseGuide(markdown: string): GuideStep[] {
  const lines = markdown.split('\n');
  const steps: GuideStep[] = [];
  let pending: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const directive = DIRECTIVE.exec(line);
    if (directive) {
      const word = directive[1]!.split(/\s/)[0]!;
      if (word === 'invite') steps.push({ kind: 'directive', directive: word, line: i + 1 });
      else pending.push(directive[1]!);
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (!fence) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    const body = lines.slice(start, end);
    i = end;
    const directives = pending;
    pending = [];
    if (directives.includes('stop-terminals')) steps.push({ kind: 'directive', directive: 'stop-terminals', line: start });
    if (directives.some((d) => d.startsWith('skip'))) continue;
    if (fence[1] === 'sh') steps.push({ kind: 'script', text: body.join('\n'), line: start + 1, directives });
    if (fence[1] === 'console') steps.push(...consoleCommands(body, start + 1, directives));
  }
  return steps;
}

function consoleCommands(body: string[], firstLine: number, directives: string[]): GuideStep[] {
  const steps: GuideStep[] = [];
  let current: { command: string; output: string[]; line: number } | undefined;
  let continued = false;
  body.forEach((text, index) => {
    if (continued && current) {
      current.command += `\n${text}`;
      continued = text.endsWith('\\');
    } else if (text.startsWith('$ ')) {
      if (current) steps.push(commandStep(current, directives));
      current = { command: text.slice(2), output: [], line: firstLine + index };
      continued = text.endsWith('\\');
    } else if (current) {
      current.output.push(text);
    }
  });
  if (current) steps.push(commandStep(current, directives));
  return steps;
}

function commandStep(c: { command: string; output: string[]; line: number }, directives: string[]): GuideStep {
  return { kind: 'command', command: c.command, expected: c.output.join('\n'), line: c.line, directives };
}

/** True when the shown output says the command failed. */
export function expectsFailure(expected: string): boolean {
  return /^(ERROR:|psql: error:)/m.test(expected);
}

/**
 * What may differ between the guide and a run, replaced on both sides: UUIDs (`<uuid>`), CA pins
 * (`sha256:<pin>`), 32-hex tokens and invite ids (`<token>`), times and dates (`<time>`), durations of validity
 * (`[valid for <duration>]`); runs of spaces and of dashes (table widths follow the host name). On the actual
 * output only: the work directory becomes `/tmp/teleport-ts-guide` and the host name `vm`, the guide's.
 */
export function normalizeOutput(text: string, actual?: { workDir: string; hostname: string }): string {
  let t = text;
  if (actual) {
    t = t.split(actual.workDir).join('/tmp/teleport-ts-guide');
    if (actual.hostname !== 'vm') t = t.replace(new RegExp(`\\b${actual.hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g'), 'vm');
  }
  return t
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '<uuid>')
    .replace(/sha256:[0-9a-f]{64}/g, 'sha256:<pin>')
    .replace(/\b[0-9a-f]{32}\b/g, '<token>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} UTC/g, '<time>')
    .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d\d? \d\d:\d\d UTC\b/g, '<time>')
    .replace(/\[valid for [0-9hms]+\]/g, '[valid for <duration>]')
    .split('\n')
    .map((l) => l.replace(/ {2,}/g, ' ').replace(/-{2,}/g, '--').trimEnd())
    .join('\n')
    .trim();
}

interface ShellResult {
  code: number;
  output: string;
}

export interface GuideShell {
  /** Runs `script` in the shell's state (cwd, variables) and keeps the state it leaves. */
  run(script: string, options?: { input?: string; errexit?: boolean }): Promise<ShellResult>;
  /** Starts `command` in the current state as a long-running "terminal"; returns its growing stdout and stderr. */
  startTerminal(command: string): { output(): string; logs(): string; exited(): boolean; process: ChildProcess };
}

/**
 * A shell whose state survives between commands: each command runs in a fresh `bash` that first restores the
 * exported variables, the shell variables the guide set and the directory, and saves them again after.
 */
export async function newGuideShell(options: { stateDir: string; cwd: string; env: NodeJS.ProcessEnv }): Promise<GuideShell> {
  const s = options.stateDir;
  await mkdir(s, { recursive: true });
  await writeFile(path.join(s, 'cwd'), `${options.cwd}\n`);
  await writeFile(path.join(s, 'env'), '');
  await writeFile(path.join(s, 'vars'), '');
  const baseline = await collect(spawn('bash', ['-c', 'compgen -v'], { env: options.env }));
  await writeFile(path.join(s, 'baseline'), `${baseline.output}__rc\n__v\n`);
  const restore = `cd "$(cat '${s}/cwd')" || exit 97\n. '${s}/env' 2>/dev/null\n. '${s}/vars' 2>/dev/null\n`;
  const save = `__rc=$?\npwd >'${s}/cwd'\nexport -p >'${s}/env'\n__v=$(compgen -v | grep -vxFf '${s}/baseline')\n[ -z "$__v" ] || declare -p $__v >'${s}/vars' 2>/dev/null\nexit $__rc\n`;
  return {
    async run(script, runOptions = {}) {
      const body = runOptions.errexit ? `set -e\n${script}\nset +e\n` : `${script}\n`;
      const child = spawn('bash', ['-c', `${restore}{\n${body}} 2>&1\n${save}`], { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin!.on('error', () => {});
      child.stdin!.end(runOptions.input ?? '');
      return collect(child);
    },
    startTerminal(command) {
      const child = spawn('bash', ['-c', `${restore}${command}`], { env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      return { output: () => out, logs: () => err, exited: () => child.exitCode !== null || child.signalCode !== null, process: child };
    },
  };
}

function collect(child: ChildProcess): Promise<ShellResult> {
  return new Promise((resolve) => {
    let output = '';
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Stops a terminal as Ctrl-C does (SIGINT to its process group), then SIGKILL after 10 s. */
export async function stopTerminal(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGINT');
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The guide, read from the repository. */
export function readGuide(root: string): Promise<string> {
  return readFile(path.join(root, 'docs', 'getting-started.md'), 'utf8');
}
