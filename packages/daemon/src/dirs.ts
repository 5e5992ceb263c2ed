/**
 * `mkdir -p` that fails fast. Node's recursive mkdir loops for ever (at 100% CPU) where a parent exists but refuses
 * new entries with ENOENT, as under `/proc`; this one creates one level at a time and stops at the first refusal.
 */

import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { BadParameterError } from '@teleport-ts/core/errors';

/**
 * Creates `dir` and its missing parents with `mode`; throws one line naming `what` and the directory otherwise.
 *
 * @example
 * ```ts
 * await makeDirs('/var/lib/teleport-ts', 0o700, 'data dir'); // "cannot create data dir /proc/x: ..." under /proc
 * ```
 */
export async function makeDirs(dir: string, mode: number, what: string): Promise<void> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let d = target; ; d = path.dirname(d)) {
    const info = await stat(d).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(failure(what, target, err))));
    if (info !== undefined) {
      if (!info.isDirectory()) throw new BadParameterError(`cannot create ${what} ${target}: ${d} is not a directory`);
      break;
    }
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw failure(what, target, err as NodeJS.ErrnoException);
    }
  }
}

function failure(what: string, dir: string, err: NodeJS.ErrnoException): BadParameterError {
  const reason = err.code === 'ENOENT' ? 'its parent does not accept new directories' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
  return new BadParameterError(`cannot create ${what} ${dir}: ${reason}; choose a directory on a writable file system`);
}
