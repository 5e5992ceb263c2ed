/**
 * Session recording against a real auth server: a node's recorder (Node host identity) uploads through the auth API,
 * the recording is listed and streamed back under the `session` rules, parts are idempotent and bounded, streaming
 * mode sends parts while the session runs, and a node process killed mid-session (mid-upload) has its recording
 * finished by the next start.
 */

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuditEvent } from '@teleport-ts/core/audit';
import { newAuthClient, writeIdentity, type AuthClient, type RecordingEvent } from '@teleport-ts/core/api';
import { issueLocalHostIdentity } from '../src/roles/auth/index.js';
import type { SshSessionStart } from '../src/roles/ssh/server/index.js';
import { newSessionRecorder, newSpoolUploader, spoolDirOf, startSessionRecording, type SessionMetadata, type SessionRecorder } from '../src/roles/ssh/recording/index.js';
import { rejection, startTestAuth, type TestAuth } from './auth-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function events(client: AuthClient, sid: string): Promise<RecordingEvent[]> {
  const out: RecordingEvent[] = [];
  for await (const ev of client.streamRecording(sid, new AbortController().signal)) out.push(ev);
  return out;
}

const printed = (evs: RecordingEvent[]): string =>
  evs.filter((e) => e.event === 'print').map((e) => Buffer.from(e['data'] as string, 'base64').toString()).join('');

function session(sid: string, user = 'alice'): SessionMetadata {
  return { sessionId: sid, clusterName: 'test.example.com', user, login: 'root', serverId: 'node-1', serverHostname: 'node-1', cols: 80, rows: 24 };
}

/** What the node's SSH server tells the recorder factory at the start of an interactive session. */
function sshStart(sid: string, user = 'alice'): SshSessionStart {
  return { sessionId: sid, user, login: 'root', clusterName: 'test.example.com', hostUUID: 'node-1', nodeName: 'node-1', remoteAddr: '127.0.0.1:50000', command: undefined, cols: 80, rows: 24, startedAt: new Date() };
}

describe('session recording through the auth server', () => {
  let t: TestAuth;
  let node: AuthClient;
  let nodeDir: string;
  let identityDir: string;

  beforeAll(async () => {
    t = await startTestAuth();
    nodeDir = await mkdtemp(path.join(tmpdir(), 'tp-node-'));
    const identity = await issueLocalHostIdentity(t.auth.context, 'Node', t.auth.dialAddr);
    identityDir = path.join(nodeDir, 'identity');
    await writeIdentity(identityDir, identity);
    node = newAuthClient({ addr: t.auth.dialAddr, identity });
  });
  afterAll(async () => {
    await node?.close();
    await t?.close();
    if (nodeDir) await rm(nodeDir, { recursive: true, force: true });
  });

  it('records output with timing, resizes, start and end; uploads it (node mode); the auditor lists and reads it', async () => {
    const recording = await startSessionRecording({ dataDir: nodeDir, client: node, at: 'node', retryIntervalMs: 0 });
    expect(recording.mode()).toBe('node');
    const sid = randomUUID();
    const rec = await recording.recorder(sshStart(sid));
    rec.output(Buffer.from('$ echo marker-42\r\n'));
    await sleep(300);
    rec.resize(120, 40);
    rec.output(Buffer.from('marker-42\r\n'));
    // Before the end nothing is uploaded in node mode: the recording is on the node's disk.
    expect((await readdir(spoolDirOf(nodeDir))).some((n) => n.startsWith(sid))).toBe(true);
    await rec.end();
    expect(await readdir(spoolDirOf(nodeDir))).toEqual([]);

    const auditor = await t.userClient('ann', ['auditor']);
    const listed = await auditor.listRecordings();
    const summary = listed.find((s) => s.sid === sid);
    expect(summary).toMatchObject({ event: 'session.end', code: 'T2004I', user: 'alice', login: 'root', participants: ['alice'], server_hostname: 'node-1', proto: 'ssh' });
    expect(summary?.incomplete).toBeUndefined();

    const evs = await events(auditor, sid);
    expect(evs.map((e) => e.event)).toEqual(['session.start', 'print', 'resize', 'print', 'session.end']);
    expect(evs.map((e) => e.ei)).toEqual([0, 1, 2, 3, 4]);
    expect(evs[0]).toMatchObject({ code: 'T2000I', sid, user: 'alice', login: 'root', size: '80:24', session_recording: 'node' });
    expect(evs[2]).toMatchObject({ code: 'T2002I', size: '120:40' });
    expect(printed(evs)).toBe('$ echo marker-42\r\nmarker-42\r\n');
    // The second output came ~300 ms after the first, by the recorder's own clock.
    expect(evs[3]!.ms - evs[1]!.ms).toBeGreaterThanOrEqual(290);
    expect(evs[3]!.ms - evs[1]!.ms).toBeLessThan(1500);
    expect(evs[3]).toMatchObject({ offset: 18, bytes: 11 });

    const uploads = await t.audit.search({ from: new Date(0), to: new Date(Date.now() + 3_600_000), eventTypes: ['session.upload'], limit: 10, order: 'asc' });
    expect(uploads.events.find((e) => e['sid'] === sid)).toMatchObject({ code: 'T2005I', user: 'alice', login: 'root' });
    const reads = await t.audit.search({ from: new Date(0), to: new Date(Date.now() + 3_600_000), eventTypes: ['session.recording.access'], limit: 10, order: 'asc' });
    expect(reads.events.find((e) => e['sid'] === sid)).toMatchObject({ code: 'T2012I', user: 'ann' });
    await recording.close();
  });

  it('a recorder alone: off records nothing, long output becomes 64 KiB print events, nothing is taken after the end', async () => {
    const spoolDir = path.join(nodeDir, 'direct-spool');
    const uploader = newSpoolUploader({ spoolDir, sink: node });
    const off: SessionRecorder = newSessionRecorder({ session: session(randomUUID()), mode: 'off', spoolDir, uploader });
    off.output(Buffer.from('not recorded'));
    await off.end();
    expect(await readdir(spoolDir).catch(() => [])).toEqual([]);

    const sid = randomUUID();
    const rec = newSessionRecorder({ session: session(sid), mode: 'node', spoolDir, uploader });
    const big = Buffer.alloc(150 * 1024, 'x');
    rec.output(big);
    await rec.end();
    rec.output(Buffer.from('after the end'));
    await rec.end();
    const auditor = await t.userClient('ann', ['auditor']);
    const evs = await events(auditor, sid);
    const prints = evs.filter((e) => e.event === 'print');
    expect(prints.map((e) => e['bytes'])).toEqual([65536, 65536, 22528]);
    expect(prints.map((e) => e['offset'])).toEqual([0, 65536, 131072]);
    expect(printed(evs)).toBe(big.toString());
    expect(evs.at(-1)!.event).toBe('session.end');
  });

  it('refuses users without session rules; the access preset sees only sessions the user took part in', async () => {
    const recording = await startSessionRecording({ dataDir: nodeDir, client: node, at: 'node', retryIntervalMs: 0 });
    const sid = randomUUID();
    const rec = await recording.recorder(sshStart(sid, 'alice'));
    rec.output(Buffer.from('secret output\r\n'));
    await rec.end();
    await recording.close();

    const editor = await t.userClient('eddie', ['editor']);
    const refused = await rejection(editor.listRecordings());
    expect(refused).toMatchObject({ kind: 'access-denied', message: 'access denied to perform action "list" on "session"' });
    expect(await rejection(events(editor, sid))).toMatchObject({ kind: 'access-denied', message: 'access denied to perform action "read" on "session"' });

    const alice = await t.userClient('alice', ['access']);
    expect((await alice.listRecordings()).map((s) => s.sid)).toContain(sid);
    expect(printed(await events(alice, sid))).toBe('secret output\r\n');
    const bob = await t.userClient('bob', ['access']);
    expect((await bob.listRecordings()).map((s) => s.sid)).not.toContain(sid);
    expect(await rejection(events(bob, sid))).toMatchObject({ kind: 'access-denied' });
    // Users cannot upload: only Node and Proxy hosts.
    expect(await rejection(alice.uploadRecordingPart(randomUUID(), { index: 0, offset: 0, data: Buffer.from('{}\n') }))).toMatchObject({ kind: 'access-denied' });
  });

  it('parts are idempotent by session and index, bounded in size, and must add up before completion', async () => {
    const sid = randomUUID();
    const line = (ei: number, event: string) => Buffer.from(`${JSON.stringify({ ei, event, time: new Date().toISOString(), ms: ei * 10, user: 'alice' })}\n`);
    const a = line(0, 'session.start');
    const b = line(1, 'session.end');
    await node.uploadRecordingPart(sid, { index: 0, offset: 0, data: a });
    await node.uploadRecordingPart(sid, { index: 0, offset: 0, data: a });
    expect(await rejection(node.completeRecording(sid, { parts: 2, size: a.length + b.length }))).toMatchObject({ code: 'ERR_TP_RECORDING_INCOMPLETE' });
    await node.uploadRecordingPart(sid, { index: 1, offset: a.length, data: b });
    const first = await node.completeRecording(sid, { parts: 2, size: a.length + b.length });
    const again = await node.completeRecording(sid, { parts: 2, size: a.length + b.length });
    expect(again).toEqual(first);
    await node.uploadRecordingPart(sid, { index: 1, offset: a.length, data: b }); // after completion: ignored
    expect(await rejection(node.uploadRecordingPart(randomUUID(), { index: 0, offset: 0, data: Buffer.alloc(512 * 1024 + 1) }))).toMatchObject({
      code: expect.stringMatching(/ERR_TP_RECORDING_TOO_LARGE|ERR_TP_REQUEST_TOO_LARGE/),
    });
    expect(await rejection(node.uploadRecordingPart('../../etc', { index: 0, offset: 0, data: a }))).toMatchObject({ kind: 'bad-parameter' });
    const uploads = await t.audit.search({ from: new Date(0), to: new Date(Date.now() + 3_600_000), eventTypes: ['session.upload'], limit: 100, order: 'asc' });
    expect(uploads.events.filter((e) => e['sid'] === sid)).toHaveLength(1);
  });

  it('the Node records SSH audit events (exec, port, scp, sftp, session.*) but not database ones', async () => {
    const fields = { user: 'alice', login: 'root', sid: randomUUID(), server_hostname: 'node-1' };
    await node.emitAuditEvents([newAuditEvent('exec', { ...fields, command: 'echo hi', exit_code: '0' }), newAuditEvent('portForward', { ...fields, addr: '127.0.0.1:8080' })]);
    const found = await t.audit.search({ from: new Date(0), to: new Date(Date.now() + 3_600_000), eventTypes: ['exec', 'port'], limit: 10, order: 'asc' });
    expect(found.events.map((e) => [e.event, e.code, e['server_id']])).toEqual([
      ['exec', 'T3002I', t.auth.hostUuid],
      ['port', 'T3003I', t.auth.hostUuid],
    ]);
    expect(await rejection(node.emitAuditEvents([newAuditEvent('databaseSessionStart', fields)]))).toMatchObject({
      kind: 'access-denied',
      message: 'access denied: the Node service may not record db.session.start events',
    });
  });

  it('a recording without session.end (cut short) is summarised from its start and last event; over-long and torn lines are skipped', async () => {
    const sid = randomUUID();
    const ev = (ei: number, event: string, time: string) => `${JSON.stringify({ ei, event, time, ms: ei, user: 'carol', login: 'ops', server_hostname: 'n2' })}\n`;
    const parts = [
      Buffer.from(ev(0, 'session.start', '2026-01-01T00:00:00.000Z')),
      Buffer.alloc(400 * 1024, 'x'),
      Buffer.alloc(400 * 1024, 'y'),
      Buffer.from(`\n${ev(1, 'print', '2026-01-01T00:00:05.000Z')}{"ei":2,"event":"pri`),
    ];
    let offset = 0;
    for (const [index, data] of parts.entries()) {
      await node.uploadRecordingPart(sid, { index, offset, data });
      offset += data.length;
    }
    const summary = await node.completeRecording(sid, { parts: parts.length, size: offset });
    expect(summary).toMatchObject({ sid, user: 'carol', login: 'ops', participants: ['carol'], server_hostname: 'n2', incomplete: true });
    expect(summary).toMatchObject({ session_start: '2026-01-01T00:00:00.000Z', session_stop: '2026-01-01T00:00:05.000Z', recording_size: offset });
  });

  it('streams parts to the auth server while the session runs (node-sync), and completes at the end', async () => {
    const t2 = await startTestAuth({ sessionRecording: 'node-sync' });
    const dir = await mkdtemp(path.join(tmpdir(), 'tp-node-sync-'));
    const client = newAuthClient({ addr: t2.auth.dialAddr, identity: await issueLocalHostIdentity(t2.auth.context, 'Node', t2.auth.dialAddr) });
    try {
      const recording = await startSessionRecording({ dataDir: dir, client, at: 'node', retryIntervalMs: 0, flushIntervalMs: 50 });
      expect(recording.mode()).toBe('node-sync');
      const sid = randomUUID();
      const rec = await recording.recorder(sshStart(sid));
      // A proxy on the same data dir does not record in node modes, and its start-up does not take the recording
      // the node is writing for one a restart left behind.
      const proxyRecording = await startSessionRecording({ dataDir: dir, client, at: 'proxy', retryIntervalMs: 0 });
      const notHere = randomUUID();
      const none = await proxyRecording.recorder(sshStart(notHere));
      none.output(Buffer.from('not recorded at the proxy'));
      await none.end();
      expect((await readdir(spoolDirOf(dir))).filter((n) => n.startsWith(notHere))).toEqual([]);
      expect((await proxyRecording.resume()).completed).toEqual([]);
      await proxyRecording.close();
      rec.output(Buffer.from('first\r\n'));
      const partsDir = path.join(t2.auth.context.recordings.dir, `${sid}.parts`);
      await until('a part on the auth server', async () => ((await readdir(partsDir).catch(() => [])).some((n) => /^\d+\.\d+$/.test(n)) ? true : undefined));
      rec.output(Buffer.from('second\r\n'));
      await rec.end();
      const auditor = await t2.userClient('ann', ['auditor']);
      expect(printed(await events(auditor, sid))).toBe('first\r\nsecond\r\n');
      await recording.close();
    } finally {
      await client.close();
      await t2.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a node killed mid-session and mid-upload: the next start uploads the rest, nothing written is lost', async () => {
    const t2 = await startTestAuth({ sessionRecording: 'node-sync' });
    const dir = await mkdtemp(path.join(tmpdir(), 'tp-node-restart-'));
    const identity = await issueLocalHostIdentity(t2.auth.context, 'Node', t2.auth.dialAddr);
    await writeIdentity(path.join(dir, 'identity'), identity);
    const client = newAuthClient({ addr: t2.auth.dialAddr, identity });
    const sid = randomUUID();
    try {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'record-child.ts'), dir, t2.auth.dialAddr, path.join(dir, 'identity'), sid], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const partsDir = path.join(t2.auth.context.recordings.dir, `${sid}.parts`);
      await until(`parts from the node process (stderr: ${err})`, async () => ((await readdir(partsDir).catch(() => [])).filter((n) => /^\d+\.\d+$/.test(n)).length >= 3 ? true : undefined), 30_000);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const spooled = await readdir(spoolDirOf(dir));
      expect(spooled).toContain(`${sid}.rec`);
      expect(spooled).toContain(`${sid}.upload.json`);
      expect(spooled).not.toContain(`${sid}.done`);

      // The restart: the recording service finds the cut recording and finishes its upload.
      const recording = await startSessionRecording({ dataDir: dir, client, at: 'node', retryIntervalMs: 0 });
      const resumed = await recording.resume();
      await recording.close();
      expect(await readdir(spoolDirOf(dir))).toEqual([]);
      const auditor = await t2.userClient('ann', ['auditor']);
      const summary = (await auditor.listRecordings()).find((s) => s.sid === sid);
      expect(summary).toMatchObject({ incomplete: true, user: 'alice' });
      expect(resumed.failed).toEqual([]);
      const lines = printed(await events(auditor, sid)).split('\r\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(3);
      // Every line the node wrote, in order, none missing.
      expect(lines).toEqual(lines.map((_, i) => `line-${i}`));
    } finally {
      await client.close();
      await t2.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
