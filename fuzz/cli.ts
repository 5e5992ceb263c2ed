/**
 * `pnpm fuzz [target...] [--runs=N | --seconds=S] [--seed=N] [--list]`: runs each target (all when none is named)
 * for N inputs or S seconds (default 10 s), prints inputs per second, and saves a crashing input (shrunk) under
 * fuzz/corpus/crashes/<target>/. Exits 1 when a target crashed.
 */

import { fuzzTarget, type FuzzOptions } from './harness.js';
import { TARGETS } from './targets/index.js';

function parseArgs(argv: readonly string[]): { names: string[]; options: FuzzOptions; list: boolean } {
  const names: string[] = [];
  const options: FuzzOptions = {};
  let list = false;
  for (const arg of argv) {
    const m = /^--(runs|seconds|seed)=(\d+(?:\.\d+)?)$/.exec(arg);
    if (m) options[m[1] as 'runs' | 'seconds' | 'seed'] = Number(m[2]);
    else if (arg === '--list') list = true;
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else names.push(arg);
  }
  if (options.runs === undefined && options.seconds === undefined) options.seconds = 10;
  return { names, options, list };
}

function usage(problem: string): never {
  process.stderr.write(`ERROR: ${problem}\nusage: pnpm fuzz [target...] [--runs=N | --seconds=S] [--seed=N] [--list]\ntargets: ${TARGETS.map((t) => t.name).join(', ')}\n`);
  process.exit(1);
}

const { names, options, list } = parseArgs(process.argv.slice(2));
if (list) {
  for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(16)} ${t.description}\n`);
  process.exit(0);
}
for (const n of names) if (!TARGETS.some((t) => t.name === n)) usage(`unknown target "${n}"`);
const selected = names.length === 0 ? TARGETS : TARGETS.filter((t) => names.includes(t.name));
let crashed = false;
process.stdout.write(`${'target'.padEnd(16)} ${'inputs'.padStart(10)} ${'seconds'.padStart(8)} ${'inputs/s'.padStart(9)} ${'cpu s'.padStart(7)} ${'/cpu s'.padStart(7)} ${'accepted'.padStart(9)}  result\n`);
for (const target of selected) {
  // Printed first: a V8 fatal error (out of memory, a native crash) ends the process before the result row.
  const seed = options.seed ?? Math.floor(Math.random() * 0x7fffffff);
  process.stderr.write(`fuzzing ${target.name} with --seed=${seed}\n`);
  const r = await fuzzTarget(target, { ...options, seed });
  const rate = r.inputs / r.seconds;
  const accepted = r.inputs === 0 ? 0 : (100 * r.accepted) / r.inputs;
  const outcome = r.crash ? `CRASH ${r.crash.error.split('\n')[0]}${r.crash.file ? ` (saved ${r.crash.file})` : ''}` : 'ok';
  process.stdout.write(
    `${r.target.padEnd(16)} ${String(r.inputs).padStart(10)} ${r.seconds.toFixed(1).padStart(8)} ${rate.toFixed(0).padStart(9)} ${r.cpuSeconds.toFixed(1).padStart(7)} ${(r.inputs / r.cpuSeconds).toFixed(0).padStart(7)} ${`${accepted.toFixed(1)}%`.padStart(9)}  ${outcome} seed=${r.seed}\n`,
  );
  crashed ||= r.crash !== undefined;
}
process.exit(crashed ? 1 : 0);
