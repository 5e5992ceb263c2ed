import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from './pki.js';
import { findPostgresBinaries, requirePostgres, startPostgres, type PostgresServer } from './postgres.js';
import { findExecutable, requireTool } from './tools.js';
import { usePostgres } from './vitest.js';

const run = promisify(execFile);
const hasPostgres = requirePostgres() !== undefined;
const psql = requireTool('psql', 'postgresql-client');
const openssl = requireTool('openssl', 'openssl');

/** Runs psql with a connection string; never prompts, never reads ~/.psqlrc. */
async function runPsql(conninfo: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', ['-X', '-w', '-At', '-d', conninfo, '-c', sql], {
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
  });
  return stdout.trim();
}

/** Gone = no such process, or a zombie nobody has reaped yet. */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

/** Pids whose parent is `ppid` (the postmaster's backends and auxiliary processes). */
function childPids(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === ppid) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe('findPostgresBinaries', () => {
  it.skipIf(!hasPostgres)('finds initdb, postgres and pg_ctl with a major version', () => {
    const found = findPostgresBinaries();
    expect(found?.version).toBeGreaterThanOrEqual(10);
    for (const program of ['initdb', 'postgres', 'pg_ctl']) expect(findExecutable(join(found!.binDir, program))).toBeDefined();
  });
});

describe('usePostgres', () => {
  const pg1 = usePostgres({ settings: { wal_level: 'logical' } });

  it('serves queries over TCP with pg and applies settings', async () => {
    const client = new pg.Client({ connectionString: pg1.server.url() });
    await client.connect();
    try {
      const { rows } = await client.query<{ wal_level: string; max_connections: string; fsync: string }>(
        "SELECT current_setting('wal_level') AS wal_level, current_setting('max_connections') AS max_connections, current_setting('fsync') AS fsync",
      );
      expect(rows).toEqual([{ wal_level: 'logical', max_connections: '200', fsync: 'off' }]);
    } finally {
      await client.end();
    }
    expect(pg1.server.host).toBe('127.0.0.1');
    expect(pg1.server.user).toBe('postgres');
  });

  it.skipIf(!psql.available)('accepts psql on its URL, and creates databases', async () => {
    await pg1.server.createDatabase('app-db');
    const url = pg1.server.url('app-db', { application_name: 'testkit' });
    expect(url).toBe(`postgres://postgres@127.0.0.1:${pg1.server.port}/app-db?application_name=testkit`);
    expect(await runPsql(url, "SELECT current_database() || ' ' || current_setting('application_name')")).toBe('app-db testkit');
  });

  it('keeps data and port across stop() and start()', async () => {
    const server = pg1.server;
    const port = server.port;
    await server.query('CREATE TABLE kept (v text)');
    await server.query('INSERT INTO kept VALUES ($1)', ['survives']);
    const firstPid = server.pid!;
    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(processGone(firstPid)).toBe(true);
    await expect(server.query('SELECT 1')).rejects.toThrow();
    await server.start();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(firstPid);
    expect(await server.query('SELECT v FROM kept')).toEqual([{ v: 'survives' }]);
    expect(server.logTail(200)).toMatch(/database system is shut down/);
  });
});

describe.skipIf(!hasPostgres)('startPostgres', () => {
  it('destroy() leaves no process and no directory, and is idempotent', async () => {
    const server = await startPostgres();
    const pid = server.pid!;
    const tmpDir = dirname(server.dataDir);
    const backend = new pg.Client({ connectionString: server.url() });
    backend.on('error', () => {});
    await backend.connect();
    const children = childPids(pid);
    expect(children.length).toBeGreaterThan(0);
    expect(existsSync(tmpDir)).toBe(true);

    await server.destroy();
    await backend.end().catch(() => {});
    expect(() => process.kill(pid, 0)).toThrow();
    for (const child of children) expect(processGone(child)).toBe(true);
    expect(existsSync(tmpDir)).toBe(false);
    await server.destroy();
    await expect(server.start()).rejects.toThrow(/destroyed/);
  });

  it('runs two servers at once on different ports with separate data', async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dataDir).not.toBe(b.dataDir);
      await a.query('CREATE TABLE only_in_a (id int)');
      expect(await a.query("SELECT to_regclass('only_in_a')::text AS t")).toEqual([{ t: 'only_in_a' }]);
      expect(await b.query("SELECT to_regclass('only_in_a')::text AS t")).toEqual([{ t: null }]);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('fails with the server log when postgres cannot start, and cleans up', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('teleport-ts-pg-')));
    const err = await startPostgres({ settings: { shared_buffers: 'lots' } }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/postgres exited during startup/);
    expect((err as Error).message).toMatch(/shared_buffers/);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith('teleport-ts-pg-') && !before.has(n));
    expect(after).toEqual([]);
  });
});

describe.skipIf(!hasPostgres || !psql.available || !openssl.available)('startPostgres with TLS and cert auth', () => {
  let dir: string;
  let pki: TestPki;
  let server: PostgresServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testkit-pki-'));
    pki = await makeTestPki(dir, { clientCommonName: 'alice' });
    server = await startPostgres({
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
      hba: ['hostssl all all 127.0.0.1/32 cert', 'local all all trust'],
    });
    await server.query('CREATE ROLE alice LOGIN');
  });

  afterAll(async () => {
    await server?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const conninfo = (extra: string) => `host=localhost port=${server.port} dbname=postgres user=alice sslmode=verify-full sslrootcert=${pki.caCert} ${extra}`;

  it('accepts a client certificate whose CN is the role', async () => {
    const out = await runPsql(
      conninfo(`sslcert=${pki.clientCert} sslkey=${pki.clientKey}`),
      'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(out).toBe('alice|t');
  });

  it('refuses a connection without a client certificate', async () => {
    const missing = join(dir, 'absent');
    await expect(runPsql(conninfo(`sslcert=${missing}.crt sslkey=${missing}.key`), 'SELECT 1')).rejects.toThrow(/certificate/);
  });

  it('refuses plaintext TCP (no hba entry)', async () => {
    await expect(runPsql(`host=127.0.0.1 port=${server.port} dbname=postgres user=alice sslmode=disable`, 'SELECT 1')).rejects.toThrow(/pg_hba\.conf/);
  });
});

const tsxAvailable = (() => {
  try {
    createRequire(import.meta.url).resolve('tsx');
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasPostgres || !tsxAvailable)('teardown when the test process ends without destroy()', () => {
  const postgresModule = join(dirname(fileURLToPath(import.meta.url)), 'postgres.ts');

  async function startInChild(ending: 'exit' | 'SIGTERM' | 'SIGINT'): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'testkit-child-'));
    const script = join(dir, 'child.mts');
    await writeFile(
      script,
      [
        `import { startPostgres } from ${JSON.stringify(postgresModule)};`,
        'const server = await startPostgres();',
        'process.stdout.write(JSON.stringify({ pid: server.pid, dataDir: server.dataDir }) + "\\n");',
        ending === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: dirname(postgresModule),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const started = await new Promise<{ pid: number; dataDir: string }>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as { pid: number; dataDir: string });
        });
        child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting postgres`)));
      });
      const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
      if (ending !== 'exit') child.kill(ending);
      expect(await exited).toBe(ending === 'exit' ? 0 : ending);
      expect(processGone(started.pid)).toBe(true);
      expect(existsSync(dirname(started.dataDir))).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('kills postgres and removes its directory on process.exit()', () => startInChild('exit'));
  it('kills postgres and removes its directory on SIGTERM', () => startInChild('SIGTERM'));
  it('kills postgres and removes its directory on SIGINT', () => startInChild('SIGINT'));
});

describe('requireTool', () => {
  it('finds programs on PATH and in sbin', () => {
    expect(requireTool('sh', 'dash')).toEqual({ available: true, path: expect.stringMatching(/\/sh$/) });
  });

  it('skips with a message locally and fails in CI when a program is missing', () => {
    const saved = process.env.CI;
    const writes: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stderr.write;
    try {
      delete process.env.CI;
      expect(requireTool('teleport-ts-no-such-tool', 'no-such-package')).toEqual({ available: false, path: undefined });
      requireTool('teleport-ts-no-such-tool', 'no-such-package');
      expect(writes).toEqual([
        'skipping tests that need teleport-ts-no-such-tool: teleport-ts-no-such-tool not found; install it with: apt-get install -y no-such-package\n',
      ]);
      process.env.CI = 'true';
      expect(() => requireTool('teleport-ts-no-such-tool', 'no-such-package')).toThrow(/apt-get install -y no-such-package/);
    } finally {
      process.stderr.write = write;
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });
});
