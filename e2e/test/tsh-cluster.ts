/**
 * Shared by the tsh and invite end-to-end tests: a built `teleport-ts start` with auth and proxy on free loopback
 * ports (temp data dir, config file), `tctl users add`, the built `tsh` with its own `TELEPORT_HOME`.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateTotp } from '@teleport-ts/core/authn';
import { authProxyConfigLines, freePort } from '@teleport-ts/testkit';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
export const bin = (name: 'tsh' | 'tctl' | 'teleport-ts'): string => path.join(root, 'bin', name);

export { freePort };

export interface TestCluster {
  dir: string;
  config: string;
  proxyAddr: string;
  /** Everything the daemon printed so far. */
  output(): string;
  /** `tctl users add`; returns the invite URL. */
  addUser(name: string, args?: string[]): Promise<string>;
  /** Runs the built tsh with this test's TELEPORT_HOME. `input` goes to stdin (lines for the prompts). */
  tsh(args: string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }>;
  tshHome: string;
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  secondFactor?: 'otp' | 'off';
  /** `proxy_service.https_keypairs[0]`: the proxy serves this certificate instead of a self-signed one. */
  httpsKeyPair?: { keyFile: string; certFile: string };
  /** `proxy_service.public_addr`; default none (the listen address). */
  publicAddr?: (proxyPort: number) => string;
  /** More `auth_service` lines, indented two spaces (e.g. `  access_requests:`). */
  authServiceExtra?: string[];
}

/** Starts auth+proxy and waits until the daemon says it is up. */
export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-tsh-'));
  const [authPort, proxyPort] = [await freePort(), await freePort()];
  const config = path.join(dir, 'teleport.yaml');
  const keyPair = options.httpsKeyPair;
  const proxyExtra = [
    ...(options.publicAddr ? [`  public_addr: ${options.publicAddr(proxyPort)}`] : []),
    ...(keyPair ? ['  https_keypairs:', `    - key_file: ${keyPair.keyFile}`, `      cert_file: ${keyPair.certFile}`] : []),
  ];
  const lines = authProxyConfigLines({ dir, nodename: 'e2e-node', cluster: 'e2e.example.com', authPort, proxyPort, secondFactor: options.secondFactor ?? 'otp', authExtra: options.authServiceExtra ?? [], proxyExtra });
  await writeFile(config, [...lines, ''].join('\n'));
  const daemon = await startDaemon(['start', '-c', config]);
  const tshHome = path.join(dir, 'tsh-home');
  const proxyAddr = `127.0.0.1:${proxyPort}`;
  return {
    dir,
    config,
    proxyAddr,
    tshHome,
    output: daemon.output,
    async addUser(name, args = []) {
      const { stdout } = await run(bin('tctl'), ['-c', config, 'users', 'add', name, ...args]);
      const url = /https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(stdout)?.[0];
      if (!url) throw new Error(`no invite URL in tctl output:\n${stdout}`);
      return url;
    },
    tsh: (args, opts = {}) => runTsh(tshHome, args, opts),
    async stop() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the built tsh with `TELEPORT_HOME=home` (and TELEPORT_PROXY/USER cleared unless given); `input` goes to stdin. */
export function runTsh(
  home: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin('tsh'), args, {
      env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface RunningDaemon {
  output(): string;
  /** The daemon's process id. */
  pid: number;
  stop(): Promise<void>;
}

/** Runs the built `teleport-ts` with `args` and waits until it says it is up. */
export async function startDaemon(args: string[]): Promise<RunningDaemon> {
  const child: ChildProcess = spawn(bin('teleport-ts'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 30_000;
  while (!out.includes('press Ctrl-C to stop') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!out.includes('press Ctrl-C to stop')) {
    child.kill('SIGKILL');
    throw new Error(`teleport-ts did not start:\n${out}`);
  }
  return {
    output: () => out,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Writes `<dir>/auth.yaml`: an auth server alone (data in `<dir>/auth`, no second factor) whose proxy is `publicAddr`; its path. */
export async function writeAuthOnlyConfig(o: { dir: string; authPort: number; cluster: string; publicAddr: string }): Promise<string> {
  const config = path.join(o.dir, 'auth.yaml');
  const lines = ['version: v3', 'teleport:', `  data_dir: ${path.join(o.dir, 'auth')}`, 'auth_service:', `  listen_addr: 127.0.0.1:${o.authPort}`, `  cluster_name: ${o.cluster}`];
  await writeFile(config, [...lines, '  authentication:', '    second_factor: off', 'proxy_service:', '  enabled: no', `  public_addr: ${o.publicAddr}`, ''].join('\n'));
  return config;
}

/** Polls `check` every 25 ms until it holds; resolves to the milliseconds it took (a latency the caller may assert on). */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - started;
}

/** The role `dbuser` as YAML for `tctl create`: databases labelled `env: <envLabel>`, as the user's own db users, any name. */
export function dbUserRoleYaml(envLabel: string): string {
  return ['kind: role', 'version: v7', 'metadata:', '  name: dbuser', 'spec:', '  allow:', '    db_labels:', `      env: ${envLabel}`, "    db_users: ['{{internal.db_users}}']", "    db_names: ['*']", ''].join('\n');
}

/** A TOTP code one step ahead: the step of the invite's code is spent (replay protection), the next one is not. */
export function nextTotp(secret: string): string {
  return generateTotp(secret, Date.now() + 30_000);
}

/** Completes an invite through the proxy's JSON API (what the page does), returning the TOTP secret. */
export async function completeInvite(inviteUrl: string, password: string): Promise<string | undefined> {
  const url = new URL(inviteUrl);
  const token = url.pathname.split('/').pop()!;
  const get = await fetchInsecure(new URL(`/v1/webapi/users/password/token/${token}`, url), 'GET');
  const secret = (get.body as { totp?: { secret: string } }).totp?.secret;
  const body = { token, password, ...(secret ? { second_factor_token: generateTotp(secret, new Date()) } : {}) };
  const put = await fetchInsecure(new URL('/v1/webapi/users/password/token', url), 'PUT', body);
  if (put.status !== 200) throw new Error(`invite completion failed: ${JSON.stringify(put.body)}`);
  return secret;
}

async function fetchInsecure(url: URL, method: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
