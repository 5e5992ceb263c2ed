import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeOutputFiles } from './files.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tctl-files-'));
  dirs.push(d);
  return d;
}

describe('writeOutputFiles', () => {
  it('writes every file owner-only and returns the paths in order', async () => {
    const dir = await tempDir();
    const written = await writeOutputFiles(
      [
        { path: path.join(dir, 'out.key'), data: 'key' },
        { path: path.join(dir, 'sub', 'out.crt'), data: 'crt' },
      ],
      { overwrite: false },
    );
    expect(written).toEqual([path.join(dir, 'out.key'), path.join(dir, 'sub', 'out.crt')]);
    expect(await readFile(path.join(dir, 'sub', 'out.crt'), 'utf8')).toBe('crt');
    expect((await stat(path.join(dir, 'out.key'))).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite without the flag and writes nothing at all', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'out.crt'), 'old');
    await expect(
      writeOutputFiles(
        [
          { path: path.join(dir, 'out.key'), data: 'key' },
          { path: path.join(dir, 'out.crt'), data: 'crt' },
        ],
        { overwrite: false },
      ),
    ).rejects.toThrow(`refusing to overwrite existing file(s) ${path.join(dir, 'out.crt')}: pass --overwrite to replace them`);
    expect(await readdir(dir)).toEqual(['out.crt']);
    expect(await readFile(path.join(dir, 'out.crt'), 'utf8')).toBe('old');
  });

  it('replaces files with --overwrite and tightens their mode', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'out.key'), 'old', { mode: 0o644 });
    await writeOutputFiles([{ path: path.join(dir, 'out.key'), data: 'new' }], { overwrite: true });
    expect(await readFile(path.join(dir, 'out.key'), 'utf8')).toBe('new');
    expect((await stat(path.join(dir, 'out.key'))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['out.key']);
  });

  it('fails fast with one line when the directory cannot be made (under /proc, where mkdir -p used to spin)', async () => {
    const started = Date.now();
    const err = (await writeOutputFiles([{ path: '/proc/teleport-ts-nope/x/out.crt', data: 'x' }], { overwrite: true }).catch((e: unknown) => e)) as Error;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err.message).toBe('cannot create the output directory /proc/teleport-ts-nope: its parent does not accept new directories; choose another --out');
  });
});
