import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../program.js';
import { renderProxyBanner } from '../render/db.js';
import type { TshContext } from './context.js';
import { envCommand } from './env.js';
import { logoutCommand } from './logout.js';
import type { RunningDbProxy } from './db.js';

describe('tsh command descriptors', () => {
  let home: string;
  const ctx = (): TshContext => ({
    env: { TELEPORT_HOME: home },
    globals: {},
    now: () => new Date(),
    dbSession: () => Promise.reject(new Error('no session in this test')),
  });
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'tsh-desc-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('builds the command tree from the descriptors, in order, with the db and proxy groups', () => {
    const program = buildProgram();
    expect(program.commands.map((c) => c.name())).toEqual(['version', 'login', 'status', 'logout', 'env', 'ssh', 'scp', 'ls', 'config', 'db', 'proxy', 'request', 'recordings', 'play']);
    const recordings = program.commands.find((c) => c.name() === 'recordings')!;
    expect(recordings.commands.map((c) => c.name())).toEqual(['ls']);
    const request = program.commands.find((c) => c.name() === 'request')!;
    expect(request.commands.map((c) => [c.name(), ...c.aliases()].join('|'))).toEqual(['new|create', 'ls', 'show|details', 'review', 'drop', 'search']);
    expect(program.commands.find((c) => c.name() === 'login')!.options.map((o) => o.long)).toEqual(['--request-id', '--request-reason']);
    const db = program.commands.find((c) => c.name() === 'db')!;
    expect(db.commands.map((c) => c.name())).toEqual(['ls', 'login', 'logout', 'env', 'config', 'connect']);
    const proxyDb = program.commands.find((c) => c.name() === 'proxy')!.commands[0]!;
    expect(proxyDb.options.map((o) => o.long)).toEqual(['--tunnel', '--port', '--db-user', '--db-name']);
    const proxySsh = program.commands.find((c) => c.name() === 'proxy')!.commands[1]!;
    expect([proxySsh.name(), ...proxySsh.options.map((o) => o.long)]).toEqual(['ssh', '--cluster']);
  });

  it('handlers return data and renderers print it: logout, env', async () => {
    const removed = await logoutCommand.handler({ args: [], opts: {} }, ctx());
    expect(removed).toBe(0);
    expect(await logoutCommand.render(removed, { args: [], opts: {} }, ctx())).toBe('All users logged out.\n');
    await expect(envCommand.handler({ args: [], opts: { format: 'text' } }, ctx())).rejects.toThrow('Not logged in.');
    const vars = { TELEPORT_PROXY: 'proxy.example.com:3080', TELEPORT_CLUSTER: 'example.com' };
    expect(await envCommand.render(vars, { args: [], opts: { format: 'yaml' } }, ctx())).toBe('TELEPORT_PROXY: proxy.example.com:3080\nTELEPORT_CLUSTER: example.com\n');
    expect(await envCommand.render(vars, { args: [], opts: { format: 'text', unset: true } }, ctx())).toBe('unset TELEPORT_PROXY\nunset TELEPORT_CLUSTER\n');
  });

  it("renders tsh proxy db's banner from the running proxy", () => {
    const running = {
      route: { serviceName: 'pg', protocol: 'postgres', username: 'alice', database: 'app' },
      cluster: 'example.com',
      command: { file: 'psql', args: ['postgres://alice@127.0.0.1:5433/app'] },
      portChosen: false,
      proxy: { host: '127.0.0.1', port: 5433 },
    } as unknown as RunningDbProxy;
    expect(renderProxyBanner(running)).toBe(
      'Started authenticated tunnel for the PostgreSQL database "pg" in cluster "example.com" on 127.0.0.1:5433.\n' +
        'To avoid port randomization, you can choose the listening port using the --port flag.\n\n' +
        'Use the following command to connect to the database or to the address above using other database GUI/CLI clients:\n' +
        '  $ psql "postgres://alice@127.0.0.1:5433/app"\n',
    );
    expect(renderProxyBanner({ ...running, portChosen: true })).not.toContain('port randomization');
  });
});
