/**
 * Small file helpers shared by every on-disk client state (identity directories, the `~/.tsh` profile store).
 * They use no `node:crypto`, so reading a profile (`tsh status`) stays cheap to start.
 */

import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';

let tmpCounter = 0;

/**
 * Writes a file whole or not at all: a temporary sibling (created exclusively, unique within this process by pid,
 * time and a counter), then a rename. The mode is made exact after writing, since the umask may have narrowed it.
 *
 * @example
 * ```ts
 * await writeAtomic(path.join(dir, 'key.pem'), keyPem, 0o600);
 * ```
 */
export async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}-${tmpCounter++}`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * A file's text, or `undefined` when it (or a directory on its path) does not exist.
 *
 * @example
 * ```ts
 * const meta = await readOptional(path.join(dir, 'identity.json'));
 * ```
 */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
