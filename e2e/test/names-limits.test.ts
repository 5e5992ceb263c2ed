/**
 * Names and limits with the built CLIs (issue 16, items 3, 4 and 9): a tricky but valid user name is created by tctl,
 * logged in with by tsh and removed by tctl; bad names, bidi names and lifetimes past the limits are refused in one line
 * before anything is sent; a join token's lifetime is said in words.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneErrorLine, run } from './tctl-harness.js';
import { bin, completeInvite, startCluster, type TestCluster } from './tsh-cluster.js';

const PASSWORD = 'correct horse battery staple';

describe('names and limits with the built tctl and tsh', () => {
  let cluster: TestCluster;
  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);
  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a user named like an e-mail address with a plus is created, logs in with tsh, and is removed by tctl', async () => {
    const name = 'dana+ops@example.com';
    await completeInvite(await cluster.addUser(name, ['--roles=access', '--logins=dana']), PASSWORD);
    const login = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, `--user=${name}`, '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.stderr).toBe(`Enter password for Teleport user ${name}: \n`);
    expect(login.code).toBe(0);
    expect((await cluster.tsh(['status'])).stdout).toContain(`  Logged in as:       ${name}\n`);
    const rm = await tctl(['users', 'rm', name]);
    expect(rm.code).toBe(0);
  });

  it('refuses bad and bidirectional names in one line, before connecting', async () => {
    for (const [args, message] of [
      [['users', 'add', 'eve\u202eevil', '--roles=access'], 'user name "eve\\u202eevil" contains control or bidirectional-override characters'],
      [['users', 'add', '../eve', '--roles=access'], 'user name "../eve" must be ASCII letters, digits and . _ - @ +, starting with a letter, a digit, _ or @'],
      [['tokens', 'add', '--type=node', '--value=has space'], 'token name must be ASCII letters, digits and . _ - @ +, starting with a letter, a digit, _ or @'],
    ] as const) {
      expect(expectOneErrorLine(await tctl([...args]))).toBe(`ERROR: ${message}`);
    }
    const tsh = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=a b', '--insecure']);
    expect(tsh.code).toBe(1);
    expect(tsh.stderr).toBe('ERROR: user name "a b" must be ASCII letters, digits and . _ - @ +, starting with a letter, a digit, _ or @\n');
  });

  it('refuses --ttl=999999h on every command in one line', async () => {
    for (const [args, limit] of [
      [['tokens', 'add', '--type=node'], '8760h'],
      [['users', 'add', 'frank', '--roles=access'], '48h'],
      [['users', 'reset', 'frank'], '24h'],
      [['auth', 'sign', '--user=frank', '--out=/tmp/never-written'], '8760h'],
      [['lock', '--user=frank'], '8760h'],
    ] as const) {
      expect(expectOneErrorLine(await tctl([...args, '--ttl=999999h'])), args.join(' ')).toBe(`ERROR: --ttl must not be longer than ${limit}`);
    }
    const tsh = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=frank', '--insecure', '--ttl=59999999']);
    expect(tsh.stderr).toBe('ERROR: --ttl must not be longer than 525600 minutes (8760h)\n');
  });

  it('says a short token lifetime in words, and lists short tokens fully masked', async () => {
    // Short, but not so short that a loaded machine lets it expire before `tokens ls` runs.
    const add = await tctl(['tokens', 'add', '--type=db', '--ttl=45s', '--value=short-token-1']);
    expect(add.stdout).toContain('\nThis token will expire in 45s.\n');
    expect(add.stdout).not.toMatch(/\d\.\d+ minutes/);
    const ls = await tctl(['tokens', 'ls']);
    expect(ls.stdout).toContain(`${'*'.repeat(13)} Db`);
    expect(ls.stdout).not.toContain('n-1');
  });
});
