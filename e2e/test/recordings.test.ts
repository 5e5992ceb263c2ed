/**
 * Session recordings end to end with the built programs: a node joined with a `--type=node` token (through the proxy)
 * records a session with real delays and uploads it through the proxy's `teleport-auth` passthrough; `tsh recordings
 * ls` lists it for an auditor, `tsh play --format text` shows its output, `tsh play` replays it with the original
 * timing (measured on the wall clock, within 10%), `--speed 2x` halves it, and a user without `session` rules is
 * refused with a clear message.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_VIA_PROXY_ALPN, joinCluster, newAuthClient, type AuthClient } from '@teleport-ts/core/api';
import { startSessionRecording } from '../../packages/daemon/src/roles/ssh/recording/index.js';
import { run } from './tctl-harness.js';
import { bin, completeInvite, runTsh, startCluster, type TestCluster } from './tsh-cluster.js';

const PASSWORD = 'correct horse battery staple';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `tsh play` and notes when each chunk of output arrived (the replay's timing as a user sees it). */
function timedTsh(home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; chunks: { at: number; text: string }[] }> {
  return new Promise((resolve) => {
    const child = spawn(bin('tsh'), args, { env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: { at: number; text: string }[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => chunks.push({ at: performance.now(), text: b.toString() }));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: chunks.map((c) => c.text).join(''), stderr, chunks }));
  });
}

describe('tsh recordings ls and tsh play', () => {
  let cluster: TestCluster;
  let node: AuthClient;
  const homes: Record<string, string> = {};
  const sid = randomUUID();
  /** When each tick was printed, by the recording's own clock (ms since the session started). */
  let recordedSpanMs = 0;

  const tsh = (user: string, args: string[]) => runTsh(homes[user]!, [...args, '--insecure']);

  async function addUserAndLogin(user: string, args: string[]): Promise<void> {
    await completeInvite(await cluster.addUser(user, args), PASSWORD);
    homes[user] = path.join(cluster.dir, `tsh-${user}`);
    const res = await runTsh(homes[user], ['login', `--proxy=${cluster.proxyAddr}`, `--user=${user}`, '--insecure'], { input: `${PASSWORD}\n` });
    expect(res.code, res.stderr).toBe(0);
  }

  beforeAll(async () => {
    // Streamed recording (teleport.yaml), stored at the default audit_sessions_uri.
    cluster = await startCluster({ secondFactor: 'off', authServiceExtra: ['  session_recording: node-sync'] });
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;
    const tokenOut = await run(bin('tctl'), ['-c', cluster.config, 'tokens', 'add', '--type=node']);
    const token = /--token=([0-9a-f]+)/.exec(tokenOut.stdout)?.[1] ?? /^([0-9a-f]{32})$/m.exec(tokenOut.stdout)?.[1];
    expect(token, tokenOut.stdout + tokenOut.stderr).toBeDefined();
    const identity = await joinCluster({ authAddr: cluster.proxyAddr, token: token!, caPins: [pin], role: 'Node', hostUuid: randomUUID(), nodename: 'rec-node', alpnProtocols: AUTH_VIA_PROXY_ALPN });
    node = newAuthClient({ addr: cluster.proxyAddr, identity, alpnProtocols: AUTH_VIA_PROXY_ALPN });
    await addUserAndLogin('ann', ['--roles=auditor']);
    await addUserAndLogin('eddie', ['--roles=editor']);

    // The node records a session whose output comes with real pauses, as a typed `echo marker-42` would.
    const recording = await startSessionRecording({ dataDir: path.join(cluster.dir, 'node-data'), client: node, at: 'node', retryIntervalMs: 0 });
    expect(recording.mode()).toBe('node-sync');
    const rec = await recording.recorder({
      sessionId: sid, user: 'alice', login: 'root', clusterName: 'e2e.example.com', hostUUID: 'rec-node', nodeName: 'rec-node',
      remoteAddr: '127.0.0.1:50000', command: undefined, cols: 80, rows: 24, startedAt: new Date(),
    });
    const started = performance.now();
    rec.output(Buffer.from('$ '));
    for (const [i, text] of ['e', 'cho marker-42\r\n', 'marker-42\r\n', '$ exit\r\n'].entries()) {
      await sleep(i === 0 ? 400 : 500);
      rec.output(Buffer.from(text));
    }
    recordedSpanMs = performance.now() - started;
    await rec.end();
    await recording.close();
    await stat(path.join(cluster.dir, 'data', 'log', 'records', `${sid}.ndjson`));
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    await cluster?.stop();
  });

  it('tsh recordings ls lists the session with Teleport columns (text and json)', async () => {
    const ls = await tsh('ann', ['recordings', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    const lines = ls.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+Type\s+Participants\s+Hostname\s+Timestamp\s*$/);
    expect(ls.stdout).toMatch(new RegExp(`${sid}\\s+ssh\\s+alice\\s+rec-node\\s+\\w{3} [ \\d]\\d \\d{4} \\d{2}:\\d{2}:\\d{2} UTC`));
    const json = await tsh('ann', ['recordings', 'ls', '--format=json']);
    const items = JSON.parse(json.stdout) as { sid: string; event: string; participants: string[] }[];
    expect(items.find((i) => i.sid === sid)).toMatchObject({ event: 'session.end', participants: ['alice'] });
  });

  it('tsh play --format text prints the output; --format json dumps the events', async () => {
    const text = await tsh('ann', ['play', sid, '--format', 'text']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('$ echo marker-42\r\nmarker-42\r\n$ exit\r\n');
    expect(text.stdout.split('\r\n')).toContain('marker-42');
    const json = await tsh('ann', ['play', sid, '--format=json']);
    expect(json.code, json.stderr).toBe(0);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; ms: number; sid?: string });
    expect(events.map((e) => e.event)).toEqual(['session.start', 'print', 'print', 'print', 'print', 'print', 'session.end']);
    expect(events[0]).toMatchObject({ sid, code: 'T2000I' });
  });

  it('tsh play replays with the original timing (within 10%), and --speed 2x at half of it', async () => {
    const play = await timedTsh(homes['ann']!, ['play', sid, '--insecure']);
    expect(play.code, play.stderr).toBe(0);
    expect(play.stdout).toBe('$ echo marker-42\r\nmarker-42\r\n$ exit\r\n');
    // From the first output to the last, as recorded (~1.9 s) and as replayed.
    const replayed = play.chunks.at(-1)!.at - play.chunks[0]!.at;
    const recorded = recordedSpanMs;
    console.log(`tsh play: recorded ${recorded.toFixed(0)} ms, replayed ${replayed.toFixed(0)} ms (${((replayed / recorded - 1) * 100).toFixed(1)}%)`);
    expect(Math.abs(replayed - recorded) / recorded).toBeLessThan(0.1);

    const fast = await timedTsh(homes['ann']!, ['play', sid, '--speed', '2x', '--insecure']);
    const fastSpan = fast.chunks.at(-1)!.at - fast.chunks[0]!.at;
    console.log(`tsh play --speed 2x: replayed ${fastSpan.toFixed(0)} ms`);
    expect(Math.abs(fastSpan - recorded / 2) / (recorded / 2)).toBeLessThan(0.1);
  });

  it('a user whose roles have no session rules is refused, with a clear message', async () => {
    const play = await tsh('eddie', ['play', sid]);
    expect(play.code).toBe(1);
    const hint = 'session recordings are readable by roles with session rules, such as the auditor preset\n';
    expect(play.stderr).toBe(`ERROR: access denied to perform action "read" on "session"\n${hint}`);
    expect(play.stdout).toBe('');
    const ls = await tsh('eddie', ['recordings', 'ls']);
    expect(ls.code).toBe(1);
    expect(ls.stderr).toBe(`ERROR: access denied to perform action "list" on "session"\n${hint}`);
    const bad = await tsh('ann', ['play', 'not-a-session']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ERROR: "not-a-session" is not a session ID/);
  });
});
