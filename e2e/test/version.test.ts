import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('built CLIs', () => {
  for (const bin of ['tsh', 'tctl', 'teleport-ts']) {
    it(`${bin} version prints Teleport's version shape`, async () => {
      const { stdout } = await run(path.join(root, 'bin', bin), ['version']);
      expect(stdout).toMatch(/^teleport-ts v\d+\.\d+\.\d+\S* git:\S+ node\d+\.\d+\.\d+\n$/);
    });

    it(`${bin} rejects an unknown flag with one ERROR line and exit 1`, async () => {
      const err = await run(path.join(root, 'bin', bin), ['--no-such-flag']).catch((e: unknown) => e as { code: number; stderr: string });
      expect(err).toMatchObject({ code: 1 });
      expect((err as { stderr: string }).stderr).toMatch(/^ERROR: unknown option '--no-such-flag'\n/);
    });
  }
});
