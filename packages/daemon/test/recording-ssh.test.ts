/**
 * Recording a real interactive SSH session: OpenSSH `ssh -tt` types `echo marker-42` into the node's SSH server,
 * whose recorder is the recording service (node mode) uploading to a real auth server; the auditor reads the
 * recording back with the typed line and its output, and the session's timing.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuthClient, type AuthClient, type RecordingEvent } from '@teleport-ts/core/api';
import { requireTool } from '@teleport-ts/testkit';
import { issueLocalHostIdentity } from '../src/roles/auth/index.js';
import { startSessionRecording, type SessionRecording } from '../src/roles/ssh/recording/index.js';
import { startTestAuth, type TestAuth } from './auth-helpers.js';
import { makeKeys, run, sshArgs, sshFiles, sshOptions, startNode, userCert, type NodeFixture, type SshFiles } from './ssh-helpers.js';

const ssh = requireTool('ssh', 'openssh-client');
const isRoot = process.getuid?.() === 0;

describe.skipIf(!ssh.available || !isRoot)('recording an OpenSSH session on the node SSH server', () => {
  let t: TestAuth;
  let client: AuthClient;
  let dataDir: string;
  let recording: SessionRecording;
  let node: NodeFixture;
  let files: SshFiles;
  let cert: string;

  beforeAll(async () => {
    t = await startTestAuth();
    dataDir = await mkdtemp(path.join(tmpdir(), 'tp-rec-ssh-'));
    client = newAuthClient({ addr: t.auth.dialAddr, identity: await issueLocalHostIdentity(t.auth.context, 'Node', t.auth.dialAddr) });
    recording = await startSessionRecording({ dataDir, client, at: 'node', retryIntervalMs: 0 });
    const keys = await makeKeys();
    [node, files] = await Promise.all([startNode(keys, { env: 'dev' }, { recorder: recording.recorder }), sshFiles(keys)]);
    cert = await files.writeCert(await userCert(keys));
  });
  afterAll(async () => {
    await node?.stop();
    await files?.remove();
    await recording?.close();
    await client?.close();
    await t?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('records what the user saw, uploads it at the end, and the auditor reads marker-42 back', async () => {
    const res = await run('ssh', [...sshArgs('ssh', sshOptions(files, cert, node.port)), '-tt', 'root@127.0.0.1'], {
      input: 'echo marker-$((40+2)); sleep 0.3\nexit\n',
    });
    expect(res.code, res.stderr).toBe(0);
    const auditor = await t.userClient('ann', ['auditor']);
    const summary = await (async () => {
      for (let i = 0; i < 100; i++) {
        const found = (await auditor.listRecordings()).find((s) => s.login === 'root');
        if (found) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no recording listed');
    })();
    expect(summary).toMatchObject({ user: 'alice', login: 'root', participants: ['alice'], server_hostname: 'node-1', server_id: '5ae2c0de-0000-4000-8000-000000000001' });
    const events: RecordingEvent[] = [];
    for await (const ev of auditor.streamRecording(summary.sid, new AbortController().signal)) events.push(ev);
    expect(events[0]).toMatchObject({ event: 'session.start', sid: summary.sid, login: 'root' });
    expect(events.at(-1)).toMatchObject({ event: 'session.end', sid: summary.sid });
    const output = events.filter((e) => e.event === 'print').map((e) => Buffer.from(e['data'] as string, 'base64').toString()).join('');
    // The typed line comes back as the PTY echoed it, then the command's output on a line of its own.
    expect(output).toContain('echo marker-$((40+2))');
    // (bash may wrap it in bracketed-paste switches, which end with a carriage return.)
    expect(output).toMatch(/[\r\n]marker-42\r\n/);
  });
});
