/**
 * Writing credentials: every file of a set is checked before anything is written (so a refusal leaves nothing
 * behind), then written to a temporary name and renamed into place, with owner-only permissions.
 */

import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BadParameterError } from '@teleport-ts/core/errors';

/** Teleport's `identityfile.FilePermissions`: every credential file is owner-only. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export interface OutputFile {
  path: string;
  data: string | Uint8Array;
  mode?: number;
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir spins for ever at 100% CPU where a parent exists but
 * refuses new entries with ENOENT (under `/proc`); here the first refusal is one line.
 */
async function makeOutputDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: DIR_MODE });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      const reason = code === 'ENOENT' ? 'its parent does not accept new directories' : (code ?? 'error');
      throw new BadParameterError(`cannot create the output directory ${d}: ${reason}; choose another --out`);
    }
  }
}

/**
 * Writes a set of files, all or nothing. Without `overwrite`, an existing file makes it refuse before writing
 * anything. Returns the paths written, in order.
 *
 * @example
 * ```ts
 * await writeOutputFiles([{ path: 'db.key', data: key }, { path: 'db.crt', data: cert }], { overwrite: false });
 * ```
 */
export async function writeOutputFiles(files: readonly OutputFile[], options: { overwrite: boolean }): Promise<string[]> {
  if (!options.overwrite) {
    const existing: string[] = [];
    for (const f of files) if (await exists(f.path)) existing.push(f.path);
    if (existing.length > 0) {
      throw new BadParameterError(`refusing to overwrite existing file(s) ${existing.join(', ')}: pass --overwrite to replace them`, {
        code: 'ERR_TP_FILE_EXISTS',
      });
    }
  }
  const staged: { tmp: string; final: string; mode: number }[] = [];
  try {
    for (const f of files) {
      const dir = path.dirname(f.path);
      await makeOutputDir(dir);
      const tmp = path.join(dir, `.${path.basename(f.path)}.${randomBytes(6).toString('hex')}.tmp`);
      const mode = f.mode ?? FILE_MODE;
      await writeFile(tmp, f.data, { mode, flag: 'wx' });
      staged.push({ tmp, final: f.path, mode });
    }
    for (const s of staged) {
      await rename(s.tmp, s.final);
      // The umask may have narrowed the mode; never widen it past what was asked.
      await chmod(s.final, s.mode);
    }
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw err;
  }
  return files.map((f) => f.path);
}
