import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerCommands } from '@teleport-ts/core/cli';
import { newCertAuthority } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { parseUser } from '@teleport-ts/core/types';
import type { ConnectedApi } from './connect.js';
import type { GlobalOptions } from './connection.js';
import { buildProgram } from './program.js';
import { newFakeAuth } from './testing/fake-auth.js';

const clock = newFakeClock(new Date('2026-05-01T10:00:00Z'));
const hostCa = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });

function harness() {
  const fake = newFakeAuth(() => clock.now());
  const out: string[] = [];
  const connects: GlobalOptions[] = [];
  let closed = 0;
  const api = Object.assign(fake, {
    addr: '127.0.0.1:3025',
    joinAddr: 'auth.example.com:3025',
    getCertAuthorities: async () => [hostCa],
    close: async () => {
      closed++;
    },
  }) as unknown as ConnectedApi;
  const program = buildProgram({
    connect: async (globals) => {
      connects.push(globals);
      return api;
    },
    stdout: (chunk) => out.push(String(chunk)),
    now: () => clock.now(),
    readStdin: async () => '',
  });
  return {
    fake,
    connects,
    closed: () => closed,
    run: async (...args: string[]) => {
      out.length = 0;
      await program.parseAsync(['node', 'tctl', ...args]);
      return out.join('');
    },
  };
}

describe('the tctl command tree', () => {
  it('passes global flags given after the subcommand and closes the client', async () => {
    const h = harness();
    const text = await h.run('users', 'add', 'alice', '--roles=access', '--roles', 'editor', '--db-users=*', '-c', '/etc/tp.yaml', '--auth-server', 'a:1');
    expect(text).toMatch(/^User "alice" has been created but requires a password\./);
    expect(h.fake.users.get('alice')!.spec.roles).toEqual(['access', 'editor']);
    expect(h.connects[0]).toMatchObject({ config: '/etc/tp.yaml', authServer: 'a:1' });
    expect(h.closed()).toBe(1);
  });

  it('prints the join instructions with the public auth address', async () => {
    const h = harness();
    const text = await h.run('tokens', 'add', '--type=node', '--value=0123456789abcdef0123456789abcdef');
    expect(text).toContain('--auth-server=auth.example.com:3025\n');
  });

  it('checks input before connecting', async () => {
    const h = harness();
    await expect(h.run('tokens', 'add', '--type=bogus')).rejects.toThrow('unknown token type "bogus"');
    await expect(h.run('users', 'add', 'bob')).rejects.toThrow('required flag --roles not provided');
    await expect(h.run('get', 'gadgets')).rejects.toThrow('unsupported resource: "gadgets"');
    await expect(h.run('auth', 'sign', '--format=db', '--out=x')).rejects.toThrow('at least one hostname must be specified via --host flag');
    await expect(h.run('auth', 'rotate')).rejects.toThrow('required flag --type not provided');
    expect(h.connects).toEqual([]);
  });

  it('locks a user and lists, prints and removes the lock', async () => {
    const h = harness();
    const text = await h.run('lock', '--user=alice', '--message=x', '--ttl=1h');
    const name = /^Created a lock with name "([0-9a-f-]{36})"\.\n$/.exec(text)?.[1];
    expect(name, text).toBeDefined();
    expect(h.fake.locks.get(name!)!.spec).toMatchObject({ target: { user: 'alice' }, message: 'x', expires: '2026-05-01T11:00:00.000Z' });
    expect(await h.run('get', 'locks', '--format=text')).toContain(`${name} User:"alice" x       Fri May  1 11:00 UTC`);
    expect(await h.run('get', `lock/${name}`)).toMatch(new RegExp(`^kind: lock\nmetadata:\n  name: ${name}\n`));
    expect(await h.run('rm', `locks/${name}`)).toBe(`lock "${name}" has been deleted\n`);
    expect(h.fake.locks.size).toBe(0);
    expect(h.closed()).toBe(4);
  });

  it('checks the lock flags before connecting', async () => {
    const h = harness();
    await expect(h.run('lock', '--message=x')).rejects.toThrow(/^at least one target field must be set: use --user, --role, --login or --server-id$/);
    await expect(h.run('lock', '--user=alice', '--ttl=1h', '--expires=2026-06-01T00:00:00Z')).rejects.toThrow(/^use only one of --expires and --ttl$/);
    await expect(h.run('lock', '--device=abc')).rejects.toThrow(/^--device is not supported by teleport-ts yet/);
    expect(h.connects).toEqual([]);
    expect(h.fake.locks.size).toBe(0);
  });

  it('gets resources as YAML by default', async () => {
    const h = harness();
    expect(await h.run('get', 'role/access')).toMatch(/^kind: role\n/);
  });
});

describe('the command descriptors', () => {
  it('registers every descriptor in list order, with aliases, arguments and hidden flags as declared', () => {
    const program = buildProgram();
    const top = program.commands.map((c) => [c.name(), ...c.aliases()].join('|'));
    expect(top).toEqual(['version', 'status', 'auth', 'users', 'nodes', 'db', 'tokens', 'get', 'create', 'rm|del', 'lock', 'audit', 'request']);
    const request = program.commands.find((c) => c.name() === 'request')!;
    expect(request.commands.map((c) => c.name())).toEqual(['ls', 'get', 'approve', 'deny', 'create', 'rm']);
    expect(request.commands.find((c) => c.name() === 'approve')!.options.map((o) => o.long)).toEqual(['--reason', '--roles']);
    const users = program.commands.find((c) => c.name() === 'users')!;
    expect(users.commands.map((c) => [c.name(), ...c.aliases()].join('|'))).toEqual(['add', 'ls', 'rm|del', 'reset', 'update']);
    const add = users.commands.find((c) => c.name() === 'add')!;
    expect(add.registeredArguments.map((a) => [a.name(), a.required])).toEqual([['account', true]]);
    const help = add.helpInformation();
    expect(help).toContain('--ttl <duration>');
    expect(help).toContain('(default: "1h")');
    expect(help).not.toContain('--format');
    const lockHelp = program.commands.find((c) => c.name() === 'lock')!.helpInformation();
    expect(lockHelp).toContain('--server-id <uuid>');
    expect(lockHelp).not.toContain('--device');
  });

  it('runs a command that needs no cluster without connecting, and an alias as its command', async () => {
    const h = harness();
    expect(await h.run('version')).toMatch(/^teleport-ts v\S+ /);
    expect(h.connects).toEqual([]);
    h.fake.users.set('bob', parseUser({ kind: 'user', version: 'v2', metadata: { name: 'bob' }, spec: { roles: [] } }));
    expect(await h.run('users', 'del', 'bob')).toBe('User "bob" has been deleted\n');
    expect(h.closed()).toBe(1);
  });

  it('refuses a subcommand listed before its group', () => {
    const program = new Command('x');
    const orphan = { name: 'nope ls', help: 'x', handler: async () => 1, render: () => '' };
    expect(() => registerCommands(program, [orphan], async () => {})).toThrow('register the group of "nope ls" before it');
  });
});
