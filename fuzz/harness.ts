/**
 * The fuzzing harness: a target is a parser, seeds built by named helpers, and a fast-check arbitrary (random
 * inputs, mutations of the seeds, and inputs built from the serializers). The property for every target: the
 * parser returns a value or throws a TeleportError, within SLOW_INPUT_MS, without asking for a large allocation;
 * and where the parser has a serializer, what it returns survives a round trip. Anything else is a crash, saved
 * (shrunk) under fuzz/corpus/crashes/<target>/, which the normal tests replay.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as fc from 'fast-check';
import { isTeleportError } from '../packages/core/src/errors/index.js';

/** How a target's inputs are stored in crash files: raw bytes (`.bin`) or a JSON string (`.json`). */
export type InputKind = 'bytes' | 'text';
type InputOf<K extends InputKind> = K extends 'bytes' ? Uint8Array : string;

/** One fuzz target. */
export interface Target<K extends InputKind = InputKind, R = unknown> {
  name: string;
  /** What it parses, for `pnpm fuzz --list` and the docs. */
  description: string;
  kind: K;
  /** Seed inputs, built from the serializers and the tests' fixture helpers (never hex blobs). */
  seeds(): Promise<InputOf<K>[]> | InputOf<K>[];
  /** The input generator, given the seeds. */
  arbitrary(seeds: InputOf<K>[]): fc.Arbitrary<InputOf<K>>;
  /** Runs the parser(s). May throw a TeleportError (a refusal); any other exception is a crash. */
  parse(input: InputOf<K>): R;
  /** Checks a returned value (round trip, consistency); any exception here, TeleportError included, is a crash. */
  check?(result: R, input: InputOf<K>): void;
}

/** An input that takes longer than this is reported as a crash ("never hangs"). Generous: the machine is shared. */
const SLOW_INPUT_MS = 2000;
/** A single allocation above this is reported as a crash ("huge length fields must not allocate"). */
const MAX_ALLOCATION_BYTES = 32 * 1024 * 1024;

const CRASH_DIR = path.join(import.meta.dirname, 'corpus', 'crashes');

/** Counters of one run. */
interface RunStats {
  inputs: number;
  /** Inputs the parser accepted (returned a value). */
  accepted: number;
  /** Inputs refused with a TeleportError. */
  refused: number;
}

class AllocationGuardError extends Error {}

let guardDepth = 0;

/**
 * While a parser runs, Buffer.alloc/allocUnsafe/allocUnsafeSlow and Buffer.concat with a total length refuse sizes
 * above MAX_ALLOCATION_BYTES. The inputs are at most a few hundred KiB, so such a request can only come from a
 * trusted length field.
 */
function installAllocationGuard(): void {
  const B = Buffer as unknown as Record<string, (...args: unknown[]) => Buffer>;
  if ((B as { __fuzzGuard?: boolean }).__fuzzGuard) return;
  (B as { __fuzzGuard?: boolean }).__fuzzGuard = true;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = B[name]!;
    B[name] = function guarded(this: unknown, size: unknown, ...rest: unknown[]) {
      if (guardDepth > 0 && typeof size === 'number' && size > MAX_ALLOCATION_BYTES) throw new AllocationGuardError(`Buffer.${name}(${size})`);
      return original.call(this, size, ...rest);
    };
  }
  const concat = B['concat']!;
  B['concat'] = function guarded(this: unknown, list: unknown, total?: unknown) {
    if (guardDepth > 0 && typeof total === 'number' && total > MAX_ALLOCATION_BYTES) throw new AllocationGuardError(`Buffer.concat(…, ${total})`);
    return total === undefined ? concat.call(this, list) : concat.call(this, list, total);
  };
}

/**
 * Runs one input through a target and throws when the property does not hold. Returns true when the parser
 * accepted the input, false when it refused it with a TeleportError.
 */
export function runOne<K extends InputKind>(target: Target<K>, input: InputOf<K>): boolean {
  installAllocationGuard();
  const start = performance.now();
  let result: unknown;
  let accepted = true;
  guardDepth++;
  try {
    result = target.parse(input);
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    accepted = false;
  } finally {
    guardDepth--;
  }
  if (accepted && target.check) target.check(result, input);
  const ms = performance.now() - start;
  if (ms > SLOW_INPUT_MS) throw new Error(`slow input: ${Math.round(ms)} ms (limit ${SLOW_INPUT_MS} ms)`);
  return accepted;
}

/** Options of {@link fuzzTarget}. */
export interface FuzzOptions {
  /** Stop after this many inputs. */
  runs?: number;
  /** Stop after this many seconds. */
  seconds?: number;
  seed?: number;
  /** Save the (shrunk) crashing input under fuzz/corpus/crashes/<target>/. Default true. */
  saveCrash?: boolean;
}

/** The outcome of a run. */
export interface FuzzResult extends RunStats {
  target: string;
  seconds: number;
  /** CPU time of the process meanwhile (all its threads): on a shared machine, inputs per CPU second vary less than per second. */
  cpuSeconds: number;
  seed: number;
  /** Set when the property failed: the error and where the input was saved. */
  crash?: { error: string; file: string | undefined; input: unknown };
}

const describeError = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

function crashOf<K extends InputKind>(target: Target<K>, options: FuzzOptions, input: InputOf<K> | undefined, error: unknown): NonNullable<FuzzResult['crash']> {
  const file = input !== undefined && options.saveCrash !== false ? saveCrash(target, input) : undefined;
  return { error: describeError(error), file, input };
}

/**
 * Runs `fn` with two costs of the process removed that parsers pay on every input, neither of which a parser can
 * observe: stack traces (`Error.stackTraceLimit = 0`; the harness reports a crash by its name and message, and a
 * saved crash replayed by the tests has its stack), and `process.env` as the live environment (a snapshot in a plain
 * object: the `yaml` library reads `process.env.LOG_TOKENS` for every token, and each read of the real one asks the
 * C library's environment). Both are restored afterwards.
 */
function withoutStacksAndLiveEnv<T>(fn: () => T): T {
  const { stackTraceLimit } = Error;
  const env = process.env;
  Error.stackTraceLimit = 0;
  process.env = { ...env };
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
    process.env = env;
  }
}

/**
 * Fuzzes one target until `runs` inputs or `seconds` have passed, whichever comes first. The seeds run first; a
 * seed that fails is reported like any other crash.
 */
export async function fuzzTarget<K extends InputKind>(target: Target<K>, options: FuzzOptions): Promise<FuzzResult> {
  const seeds = await target.seeds();
  const stats: RunStats = { inputs: 0, accepted: 0, refused: 0 };
  const seed = options.seed ?? Date.now() ^ (Math.random() * 0x7fffffff);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const elapsed = () => (performance.now() - started) / 1000;
  const cpu = () => ((used) => (used.user + used.system) / 1e6)(process.cpuUsage(cpuStart));
  for (const input of seeds) {
    try {
      runOne(target, input);
    } catch (err) {
      return { target: target.name, seconds: elapsed(), cpuSeconds: cpu(), seed, ...stats, crash: crashOf(target, options, input, err) };
    }
  }
  const property = fc.property(target.arbitrary(seeds), (input) => {
    stats.inputs++;
    if (runOne(target, input)) stats.accepted++;
    else stats.refused++;
  });
  const details = withoutStacksAndLiveEnv(() =>
    fc.check(property, {
      seed,
      numRuns: options.runs ?? 2 ** 31 - 1,
      ...(options.seconds === undefined ? {} : { interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false }),
    }),
  );
  const result: FuzzResult = { target: target.name, seconds: elapsed(), cpuSeconds: cpu(), seed, ...stats };
  if (details.failed) result.crash = crashOf(target, options, details.counterexample?.[0] as InputOf<K> | undefined, details.errorInstance);
  return result;
}

function encodeInput(kind: InputKind, input: Uint8Array | string): Buffer {
  return kind === 'bytes' ? Buffer.from(input as Uint8Array) : Buffer.from(`${JSON.stringify(input)}\n`, 'utf8');
}

/** Writes a crashing input to fuzz/corpus/crashes/<target>/<sha256 prefix>.<bin|json>; returns the path. */
function saveCrash<K extends InputKind>(target: Target<K>, input: InputOf<K>): string {
  const bytes = encodeInput(target.kind, input);
  const dir = path.join(CRASH_DIR, target.name);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${target.kind === 'bytes' ? 'bin' : 'json'}`);
  writeFileSync(file, bytes);
  return file;
}

/** The saved crash inputs of a target, as `[file, input]`. */
export function crashInputs<K extends InputKind>(target: Target<K>): [string, InputOf<K>][] {
  const dir = path.join(CRASH_DIR, target.name);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.bin') || f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return files.map((f) => {
    const raw = readFileSync(path.join(dir, f));
    const input = (target.kind === 'bytes' ? new Uint8Array(raw) : (JSON.parse(raw.toString('utf8')) as string)) as InputOf<K>;
    return [path.join(dir, f), input];
  });
}
