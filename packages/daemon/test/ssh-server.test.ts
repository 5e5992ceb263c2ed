import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { formatSshCertificate, issueSshHostCert } from '@teleport-ts/core/ca';
import { newFakeClock, systemClock } from '@teleport-ts/core/clock';
import { connectSsh } from '@teleport-ts/core/protocol/ssh';
import { parseLock } from '@teleport-ts/core/types';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, makeKeys, role, run, sshArgs, sshFiles, sshOptions, startNode, userCert, type Keys, type NodeFixture, type SshFiles } from './ssh-helpers.js';

const ssh = requireTool('ssh', 'openssh-client');
const script = requireTool('script', 'bsdutils');
const sftpServer = existsSync('/usr/lib/openssh/sftp-server');
const isRoot = process.getuid?.() === 0;

describe.skipIf(!ssh.available || !isRoot)('the node SSH server with real OpenSSH clients', () => {
  let keys: Keys;
  let node: NodeFixture;
  let files: SshFiles;
  let cert: string;

  beforeAll(async () => {
    keys = await makeKeys();
    [node, files] = await Promise.all([startNode(keys), sshFiles(keys)]);
    cert = await files.writeCert(await userCert(keys));
  });
  afterAll(async () => {
    await node?.stop();
    await files?.remove();
  });

  const sshRun = (args: string[], o: { cert?: string; input?: Buffer | string; login?: string; extra?: string[] } = {}) =>
    run('ssh', [...sshArgs('ssh', sshOptions(files, o.cert ?? cert, node.port)), ...(o.extra ?? []), `${o.login ?? 'root'}@127.0.0.1`, ...args], o.input === undefined ? {} : { input: o.input });

  it('runs a command: output, exit status, audit events', async () => {
    const res = await sshRun(['echo hi; echo err >&2; exit 3']);
    expect([res.code, res.stdout.toString(), res.stderr]).toEqual([3, 'hi\n', 'err\n']);
    const exec = node.events.find((e) => e.name === 'exec' && e.fields['command'] === 'echo hi; echo err >&2; exit 3');
    expect(exec?.fields).toMatchObject({ user: 'alice', login: 'root', exitCode: 3, server_id: '5ae2c0de-0000-4000-8000-000000000001' });
  });

  it('streams 10 MB through sha256sum unchanged', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const res = await sshRun(['sha256sum'], { input: data });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.toString().split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('reports the signal that killed the command', async () => {
    const res = await sshRun(['kill -TERM $$']);
    // OpenSSH exits 255 when the remote command died of a signal.
    expect(res.code).toBe(255);
  });

  it('passes env requests (SetEnv) but not protected names', async () => {
    const res = await sshRun(['echo "$TP_GREETING:$LD_PRELOAD:$USER:$HOME"'], { extra: ['-o', 'SetEnv=TP_GREETING=hello LD_PRELOAD=/evil.so'] });
    expect(res.stdout.toString()).toBe('hello::root:/root\n');
  });

  it.skipIf(!script.available)('gives a PTY of the client terminal size, recorded', async () => {
    const before = node.recordings.length;
    const inner = `stty cols 123 rows 45; ssh ${sshArgs('ssh', sshOptions(files, cert, node.port)).join(' ')} -tt root@127.0.0.1 'stty size; tty'`;
    const res = await run('script', ['-qec', inner, '/dev/null']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.toString()).toMatch(/45 123\r\n\/dev\/pts\/\d+/);
    const rec = node.recordings[before]!;
    expect(rec.start).toMatchObject({ user: 'alice', login: 'root', cols: 123, rows: 45, command: 'stty size; tty', nodeName: 'node-1' });
    expect(Buffer.concat(rec.output).toString()).toContain('45 123');
    expect(rec.ended).toBe(true);
  });

  it.skipIf(!existsSync('/var/lib/postgresql'))('runs programs as the login with its home and environment', async () => {
    const c = await files.writeCert(await userCert(keys, { logins: ['postgres'] }));
    const res = await sshRun(['id -un; id -u; echo $HOME; pwd'], { cert: c, login: 'postgres' });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.toString()).toMatch(/^postgres\n\d+\n\/var\/lib\/postgresql\n\/var\/lib\/postgresql\n$/);
  });

  describe.skipIf(!sftpServer)('sftp and scp', () => {
    it('puts and gets a file with sftp -b', async () => {
      const dir = join(files.dir, 'sftp');
      await mkdir(dir);
      const data = randomBytes(300_000);
      await writeFile(join(dir, 'up.bin'), data);
      const batch = join(files.dir, 'batch');
      await writeFile(batch, `put ${join(dir, 'up.bin')} ${join(dir, 'remote.bin')}\nget ${join(dir, 'remote.bin')} ${join(dir, 'down.bin')}\n`);
      const res = await run('sftp', [...sshArgs('sftp', sshOptions(files, cert, node.port)), '-b', batch, 'root@127.0.0.1']);
      expect(res.code, res.stderr).toBe(0);
      expect((await readFile(join(dir, 'down.bin'))).equals(data)).toBe(true);
      expect(node.events.some((e) => e.name === 'sftp' && e.fields['login'] === 'root')).toBe(true);
    });

    it('audits every file operation of an sftp session with its path and outcome (Teleport codes)', async () => {
      const dir = join(files.dir, 'sftp-audit');
      await mkdir(dir);
      await writeFile(join(dir, 'up.bin'), randomBytes(100_000));
      const batch = join(files.dir, 'batch-audit');
      const remote = (name: string) => join(dir, name);
      await writeFile(
        batch,
        [`put ${remote('up.bin')} ${remote('a.bin')}`, `rename ${remote('a.bin')} ${remote('b.bin')}`, `mkdir ${remote('sub')}`, `rmdir ${remote('sub')}`,
          `rm ${remote('b.bin')}`, `-rm ${remote('missing.bin')}`, ''].join('\n'),
      );
      const res = await run('sftp', [...sshArgs('sftp', sshOptions(files, cert, node.port)), '-b', batch, 'root@127.0.0.1']);
      expect(res.code, res.stderr).toBe(0);
      const ops = node.events.filter((e) => e.fields['action'] !== undefined && String(e.fields['path']).startsWith(dir));
      const seen = ops.map((e) => [e.name, e.fields['action'], String(e.fields['path']).slice(dir.length + 1), e.fields['target_path'] === undefined ? '' : String(e.fields['target_path']).slice(dir.length + 1)]);
      expect(seen).toEqual([
        ['sftp', 'open', 'a.bin', ''],
        ['sftpRename', 'rename', 'a.bin', 'b.bin'],
        ['sftpMkdir', 'mkdir', 'sub', ''],
        ['sftpRmdir', 'rmdir', 'sub', ''],
        ['sftpRemove', 'remove', 'b.bin', ''],
        ['sftpRemoveFailure', 'remove', 'missing.bin', ''],
      ]);
      const open = ops[0]!.fields;
      expect(open).toMatchObject({ user: 'alice', login: 'root' });
      // SSH_FXF_WRITE | CREAT | TRUNC.
      expect((open['flags'] as number) & 0x1a).toBe(0x1a);
      expect(ops.every((e) => e.fields['sid'] === open['sid'])).toBe(true);
      expect(ops.at(-1)!.fields['error']).toMatch(/No such file/);
    });

    it('copies both ways with scp (sftp protocol)', async () => {
      const dir = join(files.dir, 'scp');
      await mkdir(dir);
      const data = randomBytes(200_000);
      await writeFile(join(dir, 'a.bin'), data);
      const opts = sshArgs('scp', sshOptions(files, cert, node.port));
      expect((await run('scp', [...opts, join(dir, 'a.bin'), `root@127.0.0.1:${join(dir, 'b.bin')}`])).code).toBe(0);
      expect((await run('scp', [...opts, `root@127.0.0.1:${join(dir, 'b.bin')}`, join(dir, 'c.bin')])).code).toBe(0);
      expect((await readFile(join(dir, 'c.bin'))).equals(data)).toBe(true);
    });
  });

  describe('port forwarding', () => {
    let echo: Server;
    let echoPort: number;
    beforeAll(async () => {
      echo = createServer((s) => s.pipe(s));
      await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
      echoPort = (echo.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

    it('forwards a local port (-L) to a service the node reaches', async () => {
      const local = await freePort();
      const child = spawn('ssh', [...sshArgs('ssh', sshOptions(files, cert, node.port)), '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `${local}:127.0.0.1:${echoPort}`, 'root@127.0.0.1'], { stdio: 'ignore' });
      try {
        expect(await echoThrough(local, 'ping-L')).toBe('ping-L');
        expect(node.events.some((e) => e.name === 'portForward' && e.fields['addr'] === `127.0.0.1:${echoPort}`)).toBe(true);
      } finally {
        child.kill();
      }
    });

    it('forwards a remote port (-R) back to the client', async () => {
      const remote = await freePort();
      const res = await sshRun([`exec 3<>/dev/tcp/127.0.0.1/${remote}; printf ping-R >&3; head -c 6 <&3`], { extra: ['-o', 'ExitOnForwardFailure=yes', '-R', `${remote}:127.0.0.1:${echoPort}`] });
      expect([res.code, res.stdout.toString()], res.stderr).toEqual([0, 'ping-R']);
    });

    it('refuses forwarding when no role allows it, with an audit event', async () => {
      const local = await freePort();
      node.roles.set('noforward', role('noforward', { allow: { logins: ['root'], node_labels: { '*': '*' } }, options: { port_forwarding: false } }));
      const c = await files.writeCert(await userCert(keys, { roles: ['noforward'] }));
      const child = spawn('ssh', [...sshArgs('ssh', sshOptions(files, c, node.port)), '-N', '-L', `${local}:127.0.0.1:${echoPort}`, 'root@127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        await expect(echoThrough(local, 'x')).rejects.toThrow();
        expect(stderr).toMatch(/open failed: administratively prohibited: port forwarding is not permitted by the roles \(options.port_forwarding\)/);
        expect(node.events.some((e) => e.name === 'sessionRejected' && String(e.fields['reason']).includes('options.port_forwarding'))).toBe(true);
      } finally {
        child.kill();
      }
    });
  });

  it.skipIf(!requireTool('ssh-agent', 'openssh-client').available)('forwards the agent (-A) when the role allows it', async () => {
    const agentSock = join(files.dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(agentSock));
      expect((await run('ssh-add', [files.key], { env: { SSH_AUTH_SOCK: agentSock } })).code).toBe(0);
      const options = sshArgs('ssh', sshOptions(files, cert, node.port)).map((a) => (a === 'IdentityAgent=none' ? `IdentityAgent=${agentSock}` : a));
      const res = await run('ssh', [...options, '-A', 'root@127.0.0.1', 'ssh-add -l']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.toString()).toMatch(/ED25519/);
    } finally {
      agent.kill();
    }
  });

  describe('with the core client wrapper', () => {
    const login = async () =>
      (await connectSsh({
        sock: connect(node.port, '127.0.0.1'), login: 'root', privateKey: keys.user.privateKeyPem, certificate: await userCert(keys),
        hostCaKeys: [keys.hostCa.sshPublicKey], hostPrincipal: 'node-1',
      })).client;

    it('follows window changes of a PTY shell, recorded', async () => {
      const client = await login();
      const before = node.recordings.length;
      const out = await new Promise<string>((resolve, reject) => {
        client.shell({ term: 'xterm', cols: 100, rows: 30 }, (err, channel) => {
          if (err) return reject(err);
          let text = '';
          let resized = false;
          let exitCode: number | undefined;
          // root's login shell reads a ~/.bashrc that runs pyenv here: slow under load. A hang shows what the shell printed.
          const timer = setTimeout(() => reject(new Error(`no exit within 100 s; the shell printed ${JSON.stringify(text)}`)), 100_000);
          channel.on('data', (d: Buffer) => {
            text += d.toString();
            if (!resized && text.includes('30 100')) {
              resized = true;
              channel.setWindow(41, 121, 0, 0);
              channel.write('stty size; exit 7\n');
            }
          });
          channel.on('exit', (code: number) => (exitCode = code));
          channel.on('close', () => {
            clearTimeout(timer);
            if (exitCode === 7) resolve(text);
            else reject(new Error(`exit ${String(exitCode)}; the shell printed ${JSON.stringify(text)}`));
          });
          channel.write('stty size\n');
        });
      });
      client.end();
      expect(out).toContain('41 121');
      const rec = node.recordings[before]!;
      expect(rec.start).toMatchObject({ command: undefined, cols: 100, rows: 30 });
      expect(rec.resizes).toContainEqual([121, 41]);
    }, 120_000);

    it.skipIf(!requireTool('ssh-agent', 'openssh-client').available)('forwards an agent (forwardAgent + agentForward)', async () => {
      const agentSock = join(files.dir, 'agent2.sock');
      const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
      try {
        await waitFor(() => existsSync(agentSock));
        expect((await run('ssh-add', [files.key], { env: { SSH_AUTH_SOCK: agentSock } })).code).toBe(0);
        const { client } = await connectSsh({
          sock: connect(node.port, '127.0.0.1'), login: 'root', privateKey: keys.user.privateKeyPem, certificate: await userCert(keys),
          hostCaKeys: [keys.hostCa.sshPublicKey], hostPrincipal: 'node-1', forwardAgent: agentSock,
        });
        const out = await new Promise<string>((resolve, reject) => {
          client.exec('ssh-add -l', { agentForward: true } as never, (err: Error | undefined, channel: import('ssh2').ClientChannel) => {
            if (err) return reject(err);
            let text = '';
            channel.on('data', (d: Buffer) => (text += d.toString()));
            channel.stderr.resume();
            channel.on('close', () => resolve(text));
          });
        });
        client.end();
        expect(out).toMatch(/ED25519/);
      } finally {
        agent.kill();
      }
    });

    it('sends the exit signal of a command killed by a signal', async () => {
      const client = await login();
      const exit = await new Promise<unknown[]>((resolve, reject) => {
        client.exec('kill -TERM $$', (err, channel) => {
          if (err) return reject(err);
          channel.resume();
          channel.on('exit', (...args: unknown[]) => resolve(args));
        });
      });
      client.end();
      // On the wire `TERM`; ssh2's client reports it with the prefix.
      expect(exit.slice(0, 2)).toEqual([null, 'SIGTERM']);
    });
  });

  it('ends the connection at max_session_ttl', async () => {
    node.roles.set('short', role('short', { allow: { logins: ['root'], node_labels: { '*': '*' } }, options: { max_session_ttl: '3s' } }));
    const c = await files.writeCert(await userCert(keys, { roles: ['short'] }));
    const started = Date.now();
    const res = await sshRun(['sleep 30'], { cert: c });
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('session ended: max_session_ttl of the roles reached');
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  describe('refusals: one line to the client and an audit event', () => {
    const refused = async (c: string, login = 'root') => {
      const res = await sshRun(['true'], { cert: await files.writeCert(c), login });
      expect(res.code).toBe(255);
      expect(res.stderr).toContain('Permission denied (publickey)');
      return res.stderr;
    };
    const lastFailure = () => node.events.filter((e) => e.name === 'authAttemptFailure').at(-1)?.fields;

    it('a certificate from another CA', async () => {
      expect(await refused(await userCert(keys, { ca: keys.otherCa }))).toContain('SSH certificate is not signed by a trusted certificate authority');
      expect(lastFailure()).toMatchObject({ login: 'root', success: false, error: 'SSH certificate is not signed by a trusted certificate authority' });
    });

    it('a host certificate offered as a user certificate', async () => {
      const hostCert = await issueSshHostCert({
        ca: keys.userCa.privateKeyPem, publicKey: keys.user.sshPublicKey, hostId: 'root', clusterName: 'example.com', systemRole: 'Node',
        additionalPrincipals: ['root'], clock: systemClock,
      });
      // OpenSSH's ssh does not offer a host certificate for user authentication: the ssh2 client does.
      const err: unknown = await connectSsh({
        sock: connect(node.port, '127.0.0.1'), login: 'root', privateKey: keys.user.privateKeyPem, certificate: formatSshCertificate(hostCert),
        hostCaKeys: [keys.hostCa.sshPublicKey], hostPrincipal: 'node-1',
      }).then(() => undefined, (e: unknown) => e);
      expect((err as Error).message).toBe('ssh: unable to authenticate as "root": expected an SSH user certificate, got a host certificate');
      expect(lastFailure()?.['error']).toBe('expected an SSH user certificate, got a host certificate');
    });

    it('an expired certificate', async () => {
      expect(await refused(await userCert(keys, { clock: newFakeClock(new Date(Date.now() - 3 * HOUR)) }))).toContain('SSH certificate has expired');
      expect(lastFailure()?.['error']).toBe('SSH certificate has expired');
    });

    it('a source-address the client does not match', async () => {
      expect(await refused(await userCert(keys, { sourceAddresses: ['10.0.0.0/8'] }))).toContain('client address is not allowed by the certificate source-address');
    });

    it('a login that is not a principal of the certificate', async () => {
      expect(await refused(await userCert(keys, { logins: ['root'] }), 'postgres')).toContain('SSH certificate is not valid for principal "postgres"');
    });

    it('a login the roles do not allow', async () => {
      const stderr = await refused(await userCert(keys, { logins: ['root', 'daemon'], traits: { logins: ['root'] } }), 'daemon');
      expect(stderr).toContain('access denied to daemon connecting to node-1: login "daemon" is not allowed');
      expect(lastFailure()).toMatchObject({ user: 'alice', login: 'daemon' });
    });

    it('node_labels that do not match, and a deny rule', async () => {
      node.roles.set('prod', role('prod', { allow: { logins: ['root'], node_labels: { env: 'prod' } } }));
      expect(await refused(await userCert(keys, { roles: ['prod'] }))).toContain('access denied to root connecting to node-1: no role grants access to this node');
      node.roles.set('deny', role('deny', { deny: { logins: ['root'] } }));
      expect(await refused(await userCert(keys, { roles: ['dev', 'deny'] }))).toContain('login "root" is not allowed');
    });

    it('a lock refuses new logins and ends a running session', async () => {
      const child = spawn('ssh', [...sshArgs('ssh', sshOptions(files, cert, node.port)), 'root@127.0.0.1', 'echo started; sleep 31.5'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        await waitFor(() => stdout === 'started\n', 15_000);
        const lockedAt = Date.now();
        node.locks.push(parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'l1' }, spec: { target: { user: 'alice' }, message: 'incident 42' } }));
        expect(await exited).toBe(255);
        expect(Date.now() - lockedAt).toBeLessThan(5_000);
        expect(stderr).toContain('session ended: lock targeting User:"alice" is in force: incident 42');
        expect(await refused(await userCert(keys))).toContain('lock targeting User:"alice" is in force: incident 42');
        expect(node.events.some((e) => e.name === 'sessionRejected' && String(e.fields['reason']).includes('incident 42'))).toBe(true);
        // The session's programs went with it.
        await waitForAsync(async () => (await run('pgrep', ['-f', 'sleep 31.5'])).code === 1);
      } finally {
        child.kill();
        node.locks.length = 0;
      }
    }, 20_000);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Connects to a local port (retrying while ssh sets the forward up) and returns what comes back. */
async function echoThrough(port: number, text: string): Promise<string> {
  const until = Date.now() + 8_000;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => s.write(text));
        let got = '';
        s.on('data', (d) => {
          got += d.toString();
          if (got.length >= text.length) {
            s.destroy();
            resolve(got);
          }
        });
        s.on('error', reject);
        s.on('close', () => reject(new Error('closed')));
        setTimeout(() => reject(new Error('timeout')), 2_000);
      });
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe.skipIf(!ssh.available || !isRoot)('the node SSH server bounds the login time', () => {
  let keys: Keys;
  let node: NodeFixture;
  let files: SshFiles;
  beforeAll(async () => {
    keys = await makeKeys();
    [node, files] = await Promise.all([startNode(keys, { env: 'dev' }, { loginGraceMs: 1_000 }), sshFiles(keys)]);
  });
  afterAll(async () => {
    await node?.stop();
    await files?.remove();
  });

  it('closes a connection that does not log in, and not one that did', async () => {
    const socket = connect(node.port, '127.0.0.1');
    socket.resume();
    const started = Date.now();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const cert = await files.writeCert(await userCert(keys));
    const res = await run('ssh', [...sshArgs('ssh', sshOptions(files, cert, node.port)), 'root@127.0.0.1', 'sleep 2; echo still-here']);
    expect([res.code, res.stdout.toString()], res.stderr).toEqual([0, 'still-here\n']);
  });
});

async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
