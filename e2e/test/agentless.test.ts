/**
 * Agentless OpenSSH nodes end to end (issue 11 item 5): a stock `sshd` that trusts only the `openssh` CA
 * (`tctl auth export --type=openssh` in `TrustedUserCAKeys`) and presents a host certificate from
 * `tctl auth sign --format=openssh --host=...`, registered with `tctl create` (`sub_kind: openssh`). `tsh ssh`
 * reaches it through the proxy, which terminates the user's SSH connection (host certificate for the node from the
 * host CA), checks the user's certificate and roles, records the session (in the default `node` mode: the sshd
 * cannot), and logs in to the sshd for the user with a short-lived `openssh` CA certificate.
 */

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '@teleport-ts/testkit';
import { startSshd, type RunningSshd } from '../../packages/core/src/ca/testing/sshd.js';
import { makeTempDir, type TempDir } from '../../packages/core/src/ca/testing/run.js';
import { bin, completeInvite, startCluster, type TestCluster } from './tsh-cluster.js';

const execFileP = promisify(execFile);
const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const tmux = requireTool('tmux', 'tmux');
const PASSWORD = 'correct horse battery staple';
const NODE_UUID = '5b0f6c1e-7a2d-4e3f-9c8b-1d2e3f4a5b6c';

interface AuditEvent { event?: string; code?: string; user?: string; login?: string; sid?: string; server_id?: string; server_hostname?: string; error?: string; command?: string; exitCode?: number; action?: string; path?: string; flags?: number }

describe.skipIf(!sshd.available || !tmux.available)('agentless OpenSSH node: tsh ssh through the proxy, recorded at the proxy', () => {
  let cluster: TestCluster;
  let dir: TempDir;
  let node: RunningSshd | undefined;
  const homes: Record<string, string> = {};

  const tctl = async (args: string[]) => execFileP(bin('tctl'), ['-c', cluster.config, ...args]);
  const tsh = (user: string, args: string[], input: string | Buffer = '') =>
    new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) => {
      // `--insecure` after the subcommand (after a command it would be part of the remote command).
      const at = args[0] === 'recordings' ? 2 : 1;
      const child = spawn(bin('tsh'), [...args.slice(0, at), '--insecure', ...args.slice(at)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TELEPORT_HOME: homes[user], TELEPORT_PROXY: '', TELEPORT_USER: '' } });
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    });

  async function addUser(user: string, args: string[]): Promise<void> {
    await completeInvite(await cluster.addUser(user, args), PASSWORD);
    homes[user] = path.join(cluster.dir, `tsh-${user}`);
    const res = await tsh(user, ['login', `--proxy=${cluster.proxyAddr}`, `--user=${user}`], `${PASSWORD}\n`);
    expect(res.code, res.stderr).toBe(0);
  }

  /** Audit events matching `pick`, waiting for them to arrive (services send them in batches). */
  async function auditEvents(pick: (e: AuditEvent) => boolean, count = 1): Promise<AuditEvent[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { stdout } = await tctl(['audit', 'events', '--format=json']);
      const found = (JSON.parse(stdout || '[]') as AuditEvent[]).filter(pick);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`audit events not found; have:\n${stdout.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
    dir = await makeTempDir('tp-e2e-agentless-');
    // alice may log in as root on env=dev nodes and read recordings; bob's role names env=prod nodes only.
    await writeFile(
      path.join(dir.path, 'prod-only.yaml'),
      ['kind: role', 'version: v7', 'metadata:', '  name: prod-only', 'spec:', '  allow:', '    logins: [root]', '    node_labels:', '      env: prod', ''].join('\n'),
    );
    await tctl(['create', path.join(dir.path, 'prod-only.yaml')]);
    await addUser('alice', ['--roles=access,auditor', '--logins=root']);
    await addUser('bob', ['--roles=prod-only']);

    // The sshd: host certificate from the host CA, users from the openssh CA only (Teleport's guide strips the option).
    const out = path.join(dir.path, 'agentless');
    await tctl(['auth', 'sign', '--format=openssh', '--host=agentless-1,agentless-1.e2e.example.com,127.0.0.1', `--out=${out}`]);
    const opensshCa = (await tctl(['auth', 'export', '--type=openssh'])).stdout;
    const trusted = opensshCa.split('\n').filter((l) => l.startsWith('cert-authority ')).map((l) => l.split(' ').slice(1, 3).join(' '));
    expect(trusted).toHaveLength(1);
    node = await startSshd({
      sshd: sshd.path!,
      dir,
      name: 'agentless',
      hostKey: await readFile(out, 'utf8'),
      hostCertificate: (await readFile(`${out}-cert.pub`, 'utf8')).trim(),
      trustedUserCaKeys: trusted,
      extraConfig: ['Subsystem sftp /usr/lib/openssh/sftp-server'],
    });
    const yaml = ['kind: node', 'sub_kind: openssh', 'version: v2', 'metadata:', `  name: ${NODE_UUID}`, '  labels:', '    env: dev', 'spec:', `  addr: 127.0.0.1:${node.port}`, '  hostname: agentless-1', ''];
    await writeFile(path.join(dir.path, 'node.yaml'), yaml.join('\n'));
    await tctl(['create', path.join(dir.path, 'node.yaml')]);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await cluster?.stop();
    await dir?.remove();
  });

  it('tsh ssh runs a command on the sshd through the proxy, with its output and exit code, and audits it', async () => {
    const res = await tsh('alice', ['ssh', 'root@agentless-1', 'echo hi; echo oops >&2; exit 3']);
    expect(res.stdout.toString()).toBe('hi\n');
    // (The test sshd logs at DEBUG1, which it also tells the client on stderr.)
    expect(res.stderr.split(/\r?\n/)).toContain('oops');
    expect(res.code).toBe(3);
    // The sshd saw the proxy log in for alice with an openssh CA certificate.
    expect(node!.log()).toMatch(/Accepted publickey for root from 127\.0\.0\.1 port \d+ ssh2: ED25519-CERT SHA256:\S+ ID alice \(serial \d+\) CA ED25519/);
    const [exec] = await auditEvents((e) => e.event === 'exec' && e.command === 'echo hi; echo oops >&2; exit 3');
    expect(exec).toMatchObject({ user: 'alice', login: 'root', server_id: NODE_UUID, server_hostname: 'agentless-1', code: 'T3002E' });
    expect(exec!.sid).toMatch(/^[0-9a-f-]{36}$/);
    const [start] = await auditEvents((e) => e.event === 'session.start' && e.sid === exec!.sid);
    expect(start).toMatchObject({ user: 'alice', login: 'root', server_hostname: 'agentless-1' });
    await auditEvents((e) => e.event === 'session.end' && e.sid === exec!.sid);

    // 10 MB through it, byte for byte.
    const data = randomBytes(10 << 20);
    const sum = await tsh('alice', ['ssh', 'root@agentless-1', 'sha256sum'], data);
    expect(sum.stdout.toString().split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  }, 60_000);

  it('an interactive session under tmux is recorded at the proxy: tsh recordings ls lists it, tsh play shows marker-42', async () => {
    const session = `tsh-agentless-${process.pid}`;
    const cmd = `TELEPORT_HOME=${homes['alice']} ${bin('tsh')} ssh --insecure root@agentless-1; sleep 30`;
    await execFileP('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd]);
    const screen = async (re: RegExp): Promise<string> => {
      let text = '';
      for (let i = 0; i < 150 && !re.test(text); i++) {
        text = (await execFileP('tmux', ['capture-pane', '-p', '-t', session])).stdout;
        if (!re.test(text)) await new Promise((r) => setTimeout(r, 100));
      }
      return text;
    };
    try {
      expect(await screen(/[#$] ?$/m)).toMatch(/[#$] ?$/m);
      await execFileP('tmux', ['send-keys', '-t', session, 'stty size; echo marker-$((40+2))', 'Enter']);
      expect(await screen(/^marker-42$/m)).toMatch(/^30 100\nmarker-42$/m);
      await execFileP('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
    } finally {
      await new Promise((r) => setTimeout(r, 500));
      await execFileP('tmux', ['kill-session', '-t', session]).catch(() => undefined);
    }
    // Uploaded when the session ends (node mode: the proxy records for the agentless node).
    let sid = '';
    for (let i = 0; i < 50 && sid === ''; i++) {
      const ls = await tsh('alice', ['recordings', 'ls', '--format=json']);
      const items = JSON.parse(ls.stdout.toString() || '[]') as { sid: string; server_hostname?: string; interactive?: boolean }[];
      sid = items.find((r) => r.server_hostname === 'agentless-1')?.sid ?? '';
      if (sid === '') await new Promise((r) => setTimeout(r, 200));
    }
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    const text = (await tsh('alice', ['recordings', 'ls'])).stdout.toString();
    expect(text).toMatch(new RegExp(`^${sid}\\s+ssh\\s+alice\\s+agentless-1\\s`, 'm'));
    const play = await tsh('alice', ['play', sid, '--format', 'text']);
    expect(play.code, play.stderr).toBe(0);
    expect(play.stdout.toString().split('\r\n')).toContain('marker-42');
  }, 60_000);

  it('tsh scp copies a file both ways through the sftp subsystem, each file opened audited as sftp', async () => {
    const local = path.join(dir.path, 'up.bin');
    const data = randomBytes(3 << 20);
    await writeFile(local, data);
    const remote = path.join(dir.path, 'remote.bin');
    const up = await tsh('alice', ['scp', local, `root@agentless-1:${remote}`]);
    expect(up.code, up.stderr).toBe(0);
    expect((await readFile(remote)).equals(data)).toBe(true);
    const back = path.join(dir.path, 'back.bin');
    const down = await tsh('alice', ['scp', `root@agentless-1:${remote}`, back]);
    expect(down.code, down.stderr).toBe(0);
    expect((await readFile(back)).equals(data)).toBe(true);
    // Per file, as the proxy saw the requests and the sshd's answers: the upload's open for writing, the download's.
    const opens = await auditEvents((e) => e.event === 'sftp' && e.path === remote, 2);
    expect(opens[0]).toMatchObject({ code: 'TS001I', action: 'open', user: 'alice', login: 'root', server_id: NODE_UUID, server_hostname: 'agentless-1' });
    expect(opens.map((e) => (e.flags! & 2) !== 0).sort()).toEqual([false, true]);
  }, 60_000);

  it('refuses a login the roles do not allow on the node, with a clear message and an audit event, before reaching the sshd', async () => {
    const before = node!.log().length;
    const res = await tsh('bob', ['ssh', 'root@agentless-1', 'echo should-not-run']);
    expect(res.code).toBe(1);
    expect(res.stdout.toString()).toBe('');
    expect(res.stderr).toMatch(/^ERROR: .*access denied to root connecting to agentless-1/m);
    const [refusal] = await auditEvents((e) => e.code === 'T3007W' && e.user === 'bob');
    expect(refusal).toMatchObject({ login: 'root', server_hostname: 'agentless-1' });
    expect(refusal!.error).toMatch(/^access denied to root connecting to agentless-1/);
    // A login missing from alice's certificate is refused too.
    const nobody = await tsh('alice', ['ssh', 'nobody@agentless-1', 'true']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/^ERROR: .*not valid for principal "nobody"/m);
    // The proxy never logged in to the sshd for them.
    expect(node!.log().slice(before)).not.toMatch(/Accepted publickey/);
  }, 60_000);
});
