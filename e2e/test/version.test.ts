import { execFile, spawn } from 'node:child_process';
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

  it('a reader that closes the pipe early ends the CLI quietly with SIGPIPE\'s status (141), as a Go CLI dies of SIGPIPE', async () => {
    for (const bin of ['tsh', 'tctl']) {
      const child = spawn(path.join(root, 'bin', bin), ['version'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // Closed before the CLI has started: its first write to stdout fails with EPIPE.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect({ bin, code, stderr }).toEqual({ bin, code: 141, stderr: '' });
    }
  });

  it("tsh version --format=json|yaml prints Teleport's shape (version, gitref, runtime)", async () => {
    const json = JSON.parse((await run(path.join(root, 'bin', 'tsh'), ['version', '--format=json'])).stdout) as Record<string, string>;
    expect(Object.keys(json)).toEqual(['version', 'gitref', 'runtime']);
    expect(json['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(json['runtime']).toBe(`node${process.versions.node}`);
    const yaml = (await run(path.join(root, 'bin', 'tsh'), ['version', '-f', 'yaml', '--client'])).stdout;
    expect(yaml).toBe(`version: ${json['version']}\ngitref: ${json['gitref']}\nruntime: ${json['runtime']}\n`);
  });

  const failure = (bin: string, args: string[]) => run(path.join(root, 'bin', bin), args).catch((e: unknown) => e as { code: number; stderr: string; stdout: string });

  it('a Teleport command not implemented here says so in one line and exits 1, without guessing', async () => {
    for (const [bin, args, words] of [
      ['tctl', ['inventory', 'ls'], 'tctl inventory'],
      ['tsh', ['kube', 'ls'], 'tsh kube'],
      ['tsh', ['proxy', 'kube', 'cluster'], 'tsh proxy kube'],
    ] as const) {
      const err = await failure(bin, [...args]);
      expect(err).toMatchObject({ code: 1, stdout: '' });
      expect(err.stderr).toBe(`ERROR: "${words}" is a Teleport command that teleport-ts does not implement yet\n`);
    }
  });

  it("an unknown command gets Teleport's text, at the root and in a group", async () => {
    for (const [bin, args, word] of [
      ['tctl', ['frobnicate'], 'frobnicate'],
      ['tctl', ['users', 'frob'], 'frob'],
      ['tsh', ['db', 'lss'], 'lss'],
    ] as const) {
      const err = await failure(bin, [...args]);
      expect(err).toMatchObject({ code: 1 });
      expect(err.stderr).toBe(`ERROR: expected command but got "${word}"\n`);
    }
  });
});
