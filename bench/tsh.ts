/**
 * `pnpm bench tsh`: what a user waits for.
 * - CLI startup: median wall time of the built `tsh version` and `tsh status` (logged in), each run as a new
 *   process, against the baseline `node -e ''` measured in the same run (interleaved, so machine noise hits all
 *   three alike). Target: tsh under 100 ms.
 * - Logins per second at the proxy, on a real auth server + proxy in this process (sqlite backend, no OTP, rate
 *   limit raised for the bench): `GET /webapi/ping` over kept-alive connections and over a new TLS connection
 *   per request (the ALPN router's ClientHello peek + handshake), then `POST /v1/webapi/ssh/certs` (scrypt
 *   password check + SSH and TLS certificate issuance), next to the baseline of the bare scrypt verification.
 * Needs `pnpm build` first (the CLI figures are of the built bundle, as users run it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { newAuthClient } from '@teleport-ts/core/api';
import { openAuditStore } from '@teleport-ts/core/audit';
import { hashPassword, verifyPassword } from '@teleport-ts/core/authn';
import { openBackend } from '@teleport-ts/core/backend';
import { BALANCED_V1, generateKeyPair } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { startAuthServer } from '../packages/daemon/src/roles/auth/index.js';
import { colocatedProxyIdentity, startProxyService } from '../packages/daemon/src/roles/proxy/index.js';
import { rate as loopRate } from './_common.js';
import { machineLine, markdownTable, percentile, writeSection, type Row } from './_report.js';

const root = path.resolve(import.meta.dirname, '..');
const TSH = path.join(root, 'bin', 'tsh');
const RUNS = Number(process.env['BENCH_RUNS'] ?? 40);
/** `BENCH_TSH_COMPARE=/path/to/other/dist/cli.js`: also times that build's `tsh status`, interleaved (printed, not recorded). */
const COMPARE_TSH = process.env['BENCH_TSH_COMPARE'];
const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const PASSWORD = 'correct horse battery staple';

const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const logger = { ...silent, with: () => logger, close: async () => {} };

function wallMs(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return ms;
}

/** Runs `op` from `concurrency` loops for DURATION_MS; returns completed operations per second. */
const rate = (concurrency: number, op: () => Promise<void>): Promise<number> => loopRate(concurrency, DURATION_MS, op);

function request(port: number, agent: https.Agent | false, method: string, urlPath: string, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path: urlPath, agent, rejectUnauthorized: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function tshLogin(proxyAddr: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(TSH, ['login', `--proxy=${proxyAddr}`, '--user=bench', '--insecure'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.stdin.end(`${PASSWORD}\n`);
    p.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`tsh login failed: ${err}`))));
  });
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  if (!existsSync(path.join(root, 'packages', 'tsh', 'dist', 'cli.js'))) throw new Error('run `pnpm build` first: this bench times the built tsh');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-tsh-'));
  const clock = systemClock;
  const backend = await openBackend({ storage: { type: 'sqlite' }, dataDir: tmp, clock });
  const audit = await openAuditStore({ dataDir: tmp, clock });
  const auth = await startAuthServer({
    backend,
    audit,
    dataDir: tmp,
    nodename: 'bench',
    clusterName: 'bench.example.com',
    listenAddr: '127.0.0.1:0',
    authentication: { second_factor: 'off' },
    rateLimit: { average: 1e6, burst: 1e6 },
    rotationCheckIntervalMs: 0,
    clock,
    logger,
  });
  const client = newAuthClient({ addr: auth.dialAddr, identity: await colocatedProxyIdentity(auth, auth.dialAddr) });
  const proxy = await startProxyService({
    config: { version: 'v3', teleport: {} },
    dataDir: tmp,
    authClient: client,
    authAddr: auth.dialAddr,
    listenAddr: '127.0.0.1:0',
    rateLimit: { average: 1e6, burst: 1e6 },
    clock,
  });
  const port = Number(proxy.addr.split(':').pop());
  const rows: Row[] = [];
  try {
    // A user to log in as, with the invite completed as the page does it.
    const admin = newAuthClient({ addr: auth.dialAddr, identity: await (await import('@teleport-ts/core/api')).loadIdentity(auth.adminIdentityDir) });
    const { token } = await admin.createUser({ name: 'bench', roles: ['access'], logins: ['bench'] });
    await admin.completeUserToken({ tokenId: token.id, password: PASSWORD });
    await admin.close();

    // CLI startup, interleaved runs.
    const env = { ...process.env, TELEPORT_HOME: path.join(tmp, 'tsh'), TELEPORT_PROXY: '', TELEPORT_USER: '' };
    const loginMs: number[] = [];
    for (let i = 0; i < 5; i++) loginMs.push(await tshLogin(proxy.addr, env));
    const samples: Record<string, number[]> = { baseline: [], version: [], status: [], compare: [] };
    for (let i = 0; i < RUNS; i++) {
      samples['baseline']!.push(wallMs(process.execPath, ['-e', ''], env));
      samples['version']!.push(wallMs(TSH, ['version'], env));
      samples['status']!.push(wallMs(TSH, ['status'], env));
      // Another build's tsh (e.g. the previous commit's), interleaved with this one, to compare start-up on a busy machine.
      if (COMPARE_TSH) samples['compare']!.push(wallMs(process.execPath, [COMPARE_TSH, 'status'], env));
    }
    if (COMPARE_TSH) {
      samples['compare']!.sort((a, b) => a - b);
      process.stdout.write(`\`tsh status\` of ${COMPARE_TSH}: median ${ms(percentile(samples['compare']!, 50))} (not written to docs)\n`);
    }
    for (const k of Object.keys(samples)) samples[k]!.sort((a, b) => a - b);
    const median = (k: string): number => percentile(samples[k]!, 50);
    const p90 = (k: string): number => percentile(samples[k]!, 90);
    for (const [label, key] of [
      ["baseline: `node -e ''`", 'baseline'],
      ['`tsh version`', 'version'],
      ['`tsh status` (logged in)', 'status'],
    ] as const) {
      rows.push({ measure: label, median: ms(median(key)), p90: ms(p90(key)), 'over baseline (median)': key === 'baseline' ? '-' : ms(median(key) - median('baseline')), target: key === 'baseline' ? '-' : '<= 100 ms' });
      process.stdout.write(`${label}: median ${ms(median(key))}, p90 ${ms(p90(key))}\n`);
    }
    loginMs.sort((a, b) => a - b);
    rows.push({ measure: '`tsh login` (no OTP, keys + password check + certs)', median: ms(percentile(loginMs, 50)), p90: '-', 'over baseline (median)': ms(percentile(loginMs, 50) - median('baseline')), target: '-' });

    // Requests per second at the proxy.
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 16 });
    const [ssh, tls] = await Promise.all([generateKeyPair(BALANCED_V1['ssh-user']), generateKeyPair(BALANCED_V1['tls-user'])]);
    const loginBody = JSON.stringify({ user: 'bench', password: PASSWORD, pub_key: ssh.sshPublicKey, tls_pub_key: tls.publicKeyPem });
    const hash = await hashPassword(PASSWORD);
    const measures: [string, number, () => Promise<void>][] = [
      ['`GET /webapi/ping`, kept-alive connections (no hashing)', 16, () => request(port, keepAlive, 'GET', '/webapi/ping')],
      ['`GET /webapi/ping`, new TLS connection each (ALPN peek + handshake)', 16, () => request(port, false, 'GET', '/webapi/ping')],
      ['`POST /v1/webapi/ssh/certs` login (scrypt + SSH/TLS certs)', 4, () => request(port, keepAlive, 'POST', '/v1/webapi/ssh/certs', loginBody)],
      ['baseline: bare scrypt `verifyPassword` in process', 4, async () => void (await verifyPassword(PASSWORD, hash))],
    ];
    const rateRows: Row[] = [];
    for (const [label, concurrency, op] of measures) {
      const r = await rate(concurrency, op);
      rateRows.push({ measure: label, concurrency, 'requests/s': fmt(r) });
      process.stdout.write(`${label} x${concurrency}: ${fmt(r)}/s\n`);
    }
    keepAlive.destroy();
    const body = [
      '## tsh and the proxy login path',
      '',
      `Command: \`pnpm build && npx -y pnpm@10 bench tsh\` (${RUNS} interleaved runs per CLI figure; rates run ${DURATION_MS / 1000} s each, \`BENCH_RUNS\` / \`BENCH_DURATION_MS\` change that).`,
      `Machine: ${machineLine()}.`,
      'CLI figures are wall times of new processes of the built `bin/tsh`, next to `node -e \'\'` measured in the same run; `tsh status` reads a real profile written by `tsh login` against the proxy below.',
      'Rates: auth server and proxy in one process on loopback (sqlite backend, second factor off, rate limits raised for the bench); the client runs in the same process and shares its 2 cores.',
      '',
      markdownTable(rows),
      '',
      markdownTable(rateRows),
    ].join('\n');
    await writeSection('tsh', body);
    process.stdout.write('\nwritten to docs/benchmarks.md\n');
  } finally {
    await proxy.close();
    await client.close();
    await auth.close();
    await audit.close();
    await backend.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
