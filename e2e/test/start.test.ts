import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const daemon = path.join(root, 'bin', 'teleport-ts');

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-'));
  dirs.push(d);
  return d;
}

describe('teleport-ts start', () => {
  it('starts on the embedded sqlite storage in the data dir and stops cleanly on SIGTERM', async () => {
    const dataDir = await tempDir();
    // Ports of its own: the default ones belong to docs/getting-started.md's test, which may run alongside.
    const cfg = path.join(dataDir, 'teleport.yaml');
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(cfg, 'auth_service:\n  listen_addr: 127.0.0.1:0\nproxy_service:\n  web_listen_addr: 127.0.0.1:0\n'),
    );
    const child = spawn(daemon, ['start', '-c', cfg, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 20_000;
    while (!out.includes('press Ctrl-C to stop') && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out).toContain('storage backend "sqlite" is up');
    expect(existsSync(path.join(dataDir, 'backend', 'sqlite.db'))).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('teleport-ts: stopped.');
  });

  it('refuses an unknown role with one ERROR line and exit 1', async () => {
    const dataDir = await tempDir();
    const err = (await run(daemon, ['start', '--roles=auth,bogus', '--data-dir', dataDir]).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(1);
    expect(err.stderr).toBe('ERROR: unknown role "bogus"\nroles are: auth, proxy, db, node\n');
  });

  it('refuses a malformed config file without a stack trace', async () => {
    const dataDir = await tempDir();
    const cfg = path.join(dataDir, 'teleport.yaml');
    await import('node:fs/promises').then((fs) => fs.writeFile(cfg, 'teleport:\n  storage:\n    type: mongodb\n'));
    const err = (await run(daemon, ['start', '-c', cfg, '--data-dir', dataDir]).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(1);
    expect(err.stderr.split('\n')[0]).toBe('ERROR: unsupported storage type "mongodb"');
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    ['auth_servic', 'version: v3\nteleport:\n  data_dir: DATA\n  nodename: e2e\n\n# the auth service\nauth_servic:\n  enabled: yes\n', 'unknown key "auth_servic" at line 7; did you mean "auth_service"?'],
    ['stroage', 'teleport:\n  data_dir: DATA\n  stroage:\n    type: postgres\n', 'unknown key "teleport.stroage" at line 3; did you mean "teleport.storage"?'],
    ['web_listen_adr', 'teleport:\n  data_dir: DATA\nproxy_service:\n  web_listen_adr: 0.0.0.0:3080\n', 'unknown key "proxy_service.web_listen_adr" at line 4; did you mean "proxy_service.web_listen_addr"?'],
    ['data_dri', 'teleport:\n  data_dri: DATA\n', 'unknown key "teleport.data_dri" at line 2; did you mean "teleport.data_dir"?'],
  ])('refuses a mistyped %s key with its path, line and a suggestion, creating no data dir', async (_key, text, message) => {
    const dir = await tempDir();
    const dataDir = path.join(dir, 'data');
    const cfg = path.join(dir, 'teleport.yaml');
    await import('node:fs/promises').then((fs) => fs.writeFile(cfg, text.replace('DATA', dataDir)));
    const env = { ...process.env };
    delete env['TELEPORT_TS_DATA_DIR'];
    const err = (await run(daemon, ['start', '-c', cfg], { cwd: dir, env }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toBe(`ERROR: ${cfg}: ${message}\n`);
    // Neither the configured data dir nor the default one (./.teleport-ts) was created.
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(path.join(dir, '.teleport-ts'))).toBe(false);
  });

  it('refuses a taken port with one ERROR line and exit 1, before creating the data dir', async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, 'data');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const { port } = blocker.address() as net.AddressInfo;
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(cfg, `version: v3\nteleport:\n  data_dir: ${dataDir}\nauth_service:\n  listen_addr: 127.0.0.1:${port}\nproxy_service:\n  enabled: false\n`);
    const err = (await run(daemon, ['start', '-c', cfg]).catch((e: unknown) => e)) as { code: number; stderr: string };
    blocker.close();
    expect(err.code).toBe(1);
    expect(err.stderr).toBe(`ERROR: cannot listen on 127.0.0.1:${port}: address already in use; stop the process using it or change auth_service.listen_addr\n`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses a log file in a missing directory with one ERROR line, before creating the data dir', async () => {
    const dir = await tempDir();
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'missing', 'teleport.log');
    const cfg = path.join(dir, 'teleport.yaml');
    await writeFile(cfg, `version: v3\nteleport:\n  data_dir: ${dataDir}\n  log:\n    output: ${logFile}\nauth_service:\n  listen_addr: 127.0.0.1:0\nproxy_service:\n  enabled: false\n`);
    const err = (await run(daemon, ['start', '-c', cfg]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toBe(`ERROR: cannot open the log file ${logFile}: its directory does not exist; create the directory or change teleport.log.output\n`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('fails within seconds with one line for a data dir where mkdir -p cannot succeed (under /proc)', async () => {
    const cfg = path.join(await tempDir(), 'teleport.yaml');
    await writeFile(cfg, 'version: v3\nauth_service:\n  listen_addr: 127.0.0.1:0\nproxy_service:\n  enabled: false\n');
    const started = Date.now();
    const err = (await run(daemon, ['start', '-c', cfg, '--data-dir', '/proc/teleport-ts-nope/data'], { timeout: 20_000 }).catch((e: unknown) => e)) as {
      code: number;
      stderr: string;
    };
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(err.code).toBe(1);
    expect(err.stderr).toBe('ERROR: cannot create data dir /proc/teleport-ts-nope/data: its parent does not accept new directories; choose a directory on a writable file system\n');
  });
});
