/**
 * `tsh login`'s `known_hosts`, `tsh config`, `tsh proxy ssh`, `tsh ssh` and `tsh scp` against the real proxy routing:
 * two nodes (`web-1`, `web-2`, label `env=dev`) joined with a `--type=node` token and reached over their reverse
 * tunnels, served by the node's own SSH server; the real OpenSSH programs (`ssh`, `scp`, `sftp`, `rsync -e ssh`) with
 * the config `tsh config` prints; and an agentless stock `sshd` (`sub_kind: openssh`) whose host certificate comes
 * from a CA the cluster does not have, which both tsh and ssh must refuse (the proxy, which logs in to agentless nodes,
 * refuses it and says why).
 */

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSshCertificate, generateKeyPair, issueSshHostCert, toOpenSshPrivateKey } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { requireTool } from '@teleport-ts/testkit';
import { makeTempDir, type TempDir } from '../../packages/core/src/ca/testing/run.js';
import { startSshd, type RunningSshd } from '../../packages/core/src/ca/testing/sshd.js';
import { bin, completeInvite, freePort, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';

const run = promisify(execFile);
const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const ssh = requireTool('ssh', 'openssh-client');
const rsync = requireTool('rsync', 'rsync');
const sshAgent = requireTool('ssh-agent', 'openssh-client');
const tmux = requireTool('tmux', 'tmux');

const PASSWORD = 'correct horse battery staple';
const CLUSTER = 'e2e.example.com';
const LOGIN = 'root';
/** The proxy's answer for a host it does not know (Teleport's text). */
const NOT_FOUND = 'direct dialing to nodes not found in inventory is not supported';

/** The TELEPORT_HOME of the test's tsh, which OpenSSH's ProxyCommand inherits. */
let tshHome = '';

function runProgram(cmd: string, args: string[], input?: Buffer | string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TELEPORT_HOME: tshHome, TELEPORT_PROXY: '', TELEPORT_USER: '' } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A node daemon joined with a `--type=node` token: `name`, labels `env=dev`. */
async function startNode(cluster: TestCluster, name: string, pin: string, token: string): Promise<RunningDaemon> {
  const config = path.join(cluster.dir, `${name}.yaml`);
  await writeFile(
    config,
    ['version: v3', 'teleport:', `  nodename: ${name}`, `  data_dir: ${path.join(cluster.dir, `${name}-data`)}`, 'auth_service:', '  enabled: no', 'proxy_service:', '  enabled: no', 'ssh_service:', '  enabled: yes', ''].join('\n'),
  );
  return startDaemon(['start', '-c', config, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, '--labels=env=dev', `--token=${token}`]);
}

describe.skipIf(!sshd.available || !ssh.available || !rsync.available || !sshAgent.available)('tsh ssh, scp, config and proxy ssh through the proxy to nodes, and OpenSSH with tsh config', () => {
  let cluster: TestCluster;
  let dir: TempDir;
  let configFile: string;
  const nodes: RunningDaemon[] = [];
  let rogue: RunningSshd | undefined;
  const tctl = async (...args: string[]) => (await run(bin('tctl'), ['-c', cluster.config, ...args])).stdout;
  const sshArgs = (...args: string[]) => ['-F', configFile, '-o', 'BatchMode=yes', '-o', 'GlobalKnownHostsFile=/dev/null', ...args];

  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
    tshHome = cluster.tshHome;
    dir = await makeTempDir('tp-e2e-openssh-');
    await completeInvite(await cluster.addUser('alice', ['--roles=access', `--logins=${LOGIN}`]), PASSWORD);
    const login = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);

    // Two nodes over their reverse tunnels.
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;
    for (const name of ['web-1', 'web-2']) {
      const token = /--token=([0-9a-f]+)/.exec(await tctl('tokens', 'add', '--type=node'))![1]!;
      nodes.push(await startNode(cluster, name, pin, token));
    }
    for (let i = 0; ; i++) {
      const ls = await cluster.tsh(['ls', '--insecure']);
      if (/^web-1 /m.test(ls.stdout) && /^web-2 /m.test(ls.stdout)) break;
      if (i > 200) throw new Error(`the nodes did not show up:\n${ls.stdout}${ls.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // An agentless stock sshd registered as a node, whose host certificate comes from a CA the cluster does not have.
    const userCaKeys = (await tctl('auth', 'export', '--type=user'))
      .split('\n')
      .filter((l) => l.startsWith('cert-authority '))
      .map((l) => l.split(' ').slice(1, 3).join(' '));
    const [rogueCa, rogueKey] = await Promise.all([generateKeyPair('ed25519'), generateKeyPair('ed25519')]);
    const rogueCert = await issueSshHostCert({
      ca: rogueCa.privateKeyPem,
      publicKey: rogueKey.sshPublicKey,
      hostId: 'c0ffee00-0000-4000-8000-000000000002',
      clusterName: CLUSTER,
      nodeName: 'rogue',
      systemRole: 'Node',
      additionalPrincipals: [`rogue.${CLUSTER}`, '127.0.0.1'],
      clock: systemClock,
    });
    rogue = await startSshd({
      sshd: sshd.path!,
      dir,
      name: 'rogue',
      hostKey: toOpenSshPrivateKey(rogueKey.privateKeyPem),
      hostCertificate: formatSshCertificate(rogueCert),
      trustedUserCaKeys: userCaKeys,
    });
    const rogueNode = ['kind: node', 'sub_kind: openssh', 'version: v2', 'metadata:', '  name: 7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f', 'spec:', `  addr: 127.0.0.1:${rogue.port}`, '  hostname: rogue', ''];
    await tctl('create', await dir.write('rogue.yaml', rogueNode.join('\n')));

    const config = await cluster.tsh(['config', '--insecure']);
    expect(config.code, config.stderr).toBe(0);
    configFile = await dir.write('ssh_config', config.stdout);
  }, 120_000);

  afterAll(async () => {
    // Every node stops on SIGTERM within 10 s, also after serving an agent-forwarding session (whose agent socket
    // clients once kept the node from exiting); one that does not is killed and fails the file.
    const hung: string[] = [];
    await Promise.all(
      nodes.map(async (n) => {
        const timer = setTimeout(() => {
          hung.push(String(n.pid));
          process.kill(n.pid, 'SIGKILL');
        }, 10_000);
        await n.stop();
        clearTimeout(timer);
      }),
    );
    expect(hung, 'nodes that did not stop on SIGTERM within 10 s').toEqual([]);
    await rogue?.stop();
    await cluster?.stop();
    await dir?.remove();
  }, 60_000);

  it('tsh login writes known_hosts with an @cert-authority line for the host CA', async () => {
    const knownHosts = await readFile(path.join(cluster.tshHome, 'known_hosts'), 'utf8');
    const hostCa = (await tctl('auth', 'export', '--type=host')).split('\n').find((l) => l.startsWith('@cert-authority'))!;
    const caKey = hostCa.split(' ').slice(2, 4).join(' ');
    expect(knownHosts).toBe(`@cert-authority 127.0.0.1,${CLUSTER},*.${CLUSTER} ${caKey} type=host\n`);
  });

  it("tsh config prints Teleport's blocks with the profile's files and tsh proxy ssh", async () => {
    const text = await readFile(configFile, 'utf8');
    const keys = path.join(cluster.tshHome, 'keys', '127.0.0.1');
    expect(text).toContain(`# Begin generated Teleport configuration for 127.0.0.1 by tsh\n`);
    expect(text).toContain(
      [
        `# Common flags for all ${CLUSTER} hosts`,
        `Host *.${CLUSTER} 127.0.0.1`,
        `    UserKnownHostsFile "${path.join(cluster.tshHome, 'known_hosts')}"`,
        `    IdentityFile "${path.join(keys, 'alice')}"`,
        `    CertificateFile "${path.join(keys, 'alice-ssh', `${CLUSTER}-cert.pub`)}"`,
        '    HostKeyAlgorithms ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com',
        '    StrictHostKeyChecking yes',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        `# Flags for all ${CLUSTER} hosts except the proxy`,
        `Host *.${CLUSTER} !127.0.0.1`,
        '    Port 3022',
        `    ProxyCommand "${bin('tsh')}" proxy ssh --cluster=${CLUSTER} --proxy=${cluster.proxyAddr} --insecure %r@%h:%p`,
      ].join('\n'),
    );
    expect(text).toMatch(/# End generated Teleport configuration\n$/);
  });

  it('ssh with the config runs a command on the node through tsh proxy ssh, with its exit code', async () => {
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@web-1.${CLUSTER}`, 'echo hi; echo err >&2; exit 3'));
    expect(res.stderr).toContain('err');
    expect(res.stdout.toString()).toBe('hi\n');
    expect(res.code).toBe(3);
  });

  it('streams 20 MB through ssh both ways unchanged', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@web-1.${CLUSTER}`, 'cat'), data);
    expect(res.code, res.stderr).toBe(0);
    expect(sha256(res.stdout)).toBe(sha256(data));
  });

  it('scp, sftp and rsync -e ssh copy files both ways with the config', async () => {
    const local = path.join(dir.path, 'tree');
    await mkdir(path.join(local, 'sub'), { recursive: true });
    const data = randomBytes(300_000);
    await writeFile(path.join(local, 'sub', 'blob'), data);
    const remote = path.join(dir.path, 'remote');
    const host = `${LOGIN}@web-1.${CLUSTER}`;

    const up = await runProgram('scp', ['-r', ...sshArgs(local, `${host}:${remote}-scp`)]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256(await readFile(path.join(`${remote}-scp`, 'sub', 'blob')))).toBe(sha256(data));
    const down = await runProgram('scp', sshArgs(`${host}:${remote}-scp/sub/blob`, path.join(dir.path, 'back-scp')));
    expect(down.code, down.stderr).toBe(0);
    expect(sha256(await readFile(path.join(dir.path, 'back-scp')))).toBe(sha256(data));

    const sftpRun = await runProgram('sftp', sshArgs('-b', '-', host), `put ${path.join(local, 'sub', 'blob')} ${remote}-sftp\nget ${remote}-sftp ${path.join(dir.path, 'back-sftp')}\n`);
    expect(sftpRun.code, sftpRun.stderr).toBe(0);
    expect(sha256(await readFile(path.join(dir.path, 'back-sftp')))).toBe(sha256(data));

    const rsh = `ssh ${sshArgs().join(' ')}`;
    const rsyncUp = await runProgram('rsync', ['-a', '-e', rsh, `${local}/`, `${host}:${remote}-rsync/`]);
    expect(rsyncUp.code, rsyncUp.stderr).toBe(0);
    const rsyncDown = await runProgram('rsync', ['-a', '-e', rsh, `${host}:${remote}-rsync/`, `${path.join(dir.path, 'back-rsync')}/`]);
    expect(rsyncDown.code, rsyncDown.stderr).toBe(0);
    expect(sha256(await readFile(path.join(dir.path, 'back-rsync', 'sub', 'blob')))).toBe(sha256(data));
  });

  it("ssh is refused an agentless node whose host certificate is not from the cluster's host CA (the proxy, which logs in to it, says why)", async () => {
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@rogue.${CLUSTER}`, 'echo should-not-run'));
    expect(res.code).toBe(255);
    expect(res.stdout.toString()).toBe('');
    expect(res.stderr).toMatch(/^failed to log in to rogue as root: SSH certificate is not signed by a trusted certificate authority\r?$/m);
    expect(res.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it("tsh proxy ssh prints the proxy's refusal and exits 1; ssh reports it", async () => {
    const direct = await cluster.tsh(['proxy', 'ssh', '--insecure', `${LOGIN}@nosuch.${CLUSTER}:3022`]);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toBe(`ERROR: ${NOT_FOUND}\n`);
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@nosuch.${CLUSTER}`, 'true'));
    expect(res.code).toBe(255);
    expect(res.stderr).toContain(`ERROR: ${NOT_FOUND}`);
  });

  describe('tsh ssh and tsh scp (core SSH client through the routing)', () => {
    const via = () => ['--insecure'];
    const tshRun = (args: string[], input?: Buffer | string, env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) => {
        const child = spawn(bin('tsh'), args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TELEPORT_HOME: tshHome, TELEPORT_PROXY: '', TELEPORT_USER: '', ...env } });
        const out: Buffer[] = [];
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdin.on('error', () => undefined);
        child.stdin.end(input ?? '');
        // The test sshd logs at DEBUG1, which it also sends to the session's stderr.
        child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: stderr.replace(/^debug\d: .*\r?\n/gm, '') }));
      });

    it('runs a command with stdout, stderr and the exit code; flags after the host are the command\'s', async () => {
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@web-1`, 'echo hi; echo err >&2; exit 3']);
      expect(res.stdout.toString()).toBe('hi\n');
      expect(res.stderr).toBe('err\n');
      expect(res.code).toBe(3);
      const flags = await tshRun(['ssh', ...via(), '-l', LOGIN, `web-1.${CLUSTER}`, 'echo', '-n', 'x', '-l']);
      expect(flags.stderr).toBe('');
      expect(flags.stdout.toString()).toBe('x -l');
      expect(flags.code).toBe(0);
    });

    it('pipes 100 MB of stdin to the command and its output back unchanged', async () => {
      const data = randomBytes(100 * 1024 * 1024);
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@web-1`, 'sha256sum'], data);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.toString()).toBe(`${sha256(data)}  -\n`);
    });

    it('runs a command on every node matching a label selector, each line prefixed with the node name', async () => {
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@env=dev`, 'echo one; echo two; echo err >&2']);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.toString().split('\n').filter((l) => l !== '');
      expect(lines.sort()).toEqual(['[web-1] one', '[web-1] two', '[web-2] one', '[web-2] two']);
      // Each node's own lines stay in order.
      for (const n of ['web-1', 'web-2']) expect(res.stdout.toString().indexOf(`[${n}] one`)).toBeLessThan(res.stdout.toString().indexOf(`[${n}] two`));
      expect(res.stderr.split('\n').filter((l) => l !== '').sort()).toEqual(['[web-1] err', '[web-2] err']);
      const failing = await tshRun(['ssh', ...via(), `${LOGIN}@env=dev`, 'exit 4']);
      expect(failing.code).toBe(4);
      const none = await tshRun(['ssh', ...via(), `${LOGIN}@env=prod`, 'true']);
      expect(none.code).toBe(1);
      expect(none.stderr).toBe('ERROR: no matching SSH hosts found for search terms or query expression\n');
    });

    it('the node refuses a login the role does not allow, and tsh says so', async () => {
      const res = await tshRun(['ssh', ...via(), 'nobody@web-1', 'echo should-not-run']);
      expect(res.code).toBe(1);
      expect(res.stdout.toString()).toBe('');
      expect(res.stderr).toMatch(/^ERROR: .*nobody.*\n/);
    });

    it("refuses a node whose host certificate is not from the cluster's host CA", async () => {
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@rogue`, 'echo should-not-run']);
      expect(res.code).toBe(1);
      expect(res.stdout.toString()).toBe('');
      expect(res.stderr).toMatch(/^ERROR: .*(certificate|CA).*\n/);
      expect(res.stderr).not.toContain('should-not-run');
    });

    it("prints the proxy's refusal", async () => {
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@nosuch`, 'true']);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe(`ERROR: ${NOT_FOUND}\n`);
    });

    it('-L forwards a local port to an HTTP server as seen from the node; -N runs no command', async () => {
      const http = await import('node:http');
      const web = http.createServer((_req, res) => res.end('hello through -L'));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      const webPort = (web.address() as net.AddressInfo).port;
      const localPort = await freePort();
      const child = spawn(bin('tsh'), ['ssh', ...via(), '-N', '-L', `${localPort}:127.0.0.1:${webPort}`, `${LOGIN}@web-1`], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TELEPORT_HOME: tshHome },
      });
      try {
        let body = '';
        for (let i = 0; i < 100 && body === ''; i++) {
          body = await fetch(`http://127.0.0.1:${localPort}/`).then((r) => r.text(), () => '');
          if (body === '') await new Promise((r) => setTimeout(r, 100));
        }
        expect(body).toBe('hello through -L');
      } finally {
        child.kill('SIGINT');
        await new Promise((r) => child.once('close', r));
        web.close();
      }
      expect(child.exitCode).toBe(0);
    });

    it('-R forwards a port on the node to a server here', async () => {
      const server = net.createServer((s) => s.end('hello through -R\n'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const remotePort = await freePort();
      try {
        const res = await tshRun(['ssh', ...via(), '-R', `127.0.0.1:${remotePort}:127.0.0.1:${port}`, `${LOGIN}@web-1`, `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${remotePort}; cat <&3'`]);
        expect(res.stderr).toBe('');
        expect(res.stdout.toString()).toBe('hello through -R\n');
      } finally {
        server.close();
      }
    });

    it.skipIf(!tmux.available)('-t gives the command a PTY of the terminal size and follows resizes (tmux)', async () => {
      const session = `tsh-pty-${process.pid}`;
      const script = `stty size; read line; stty size`;
      const cmd = `TELEPORT_HOME=${tshHome} ${bin('tsh')} ssh ${via().join(' ')} -t ${LOGIN}@web-1 '${script}'; sleep 30`;
      await run('tmux', ['new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd]);
      try {
        // What the terminal shows (tsh's stdout must be the terminal for its size to count).
        const waitFor = async (re: RegExp) => {
          let screen = '';
          for (let i = 0; i < 100 && !re.test(screen); i++) {
            screen = (await run('tmux', ['capture-pane', '-p', '-t', session])).stdout;
            if (!re.test(screen)) await new Promise((r) => setTimeout(r, 100));
          }
          return screen;
        };
        expect(await waitFor(/^30 100$/m)).toMatch(/^30 100$/m);
        await run('tmux', ['resize-window', '-t', session, '-x', '120', '-y', '40']);
        await new Promise((r) => setTimeout(r, 300));
        await run('tmux', ['send-keys', '-t', session, 'Enter']);
        expect(await waitFor(/^40 120$/m)).toMatch(/^30 100\n(.*\n)?40 120$/m);
      } finally {
        await run('tmux', ['kill-session', '-t', session]).catch(() => undefined);
      }
    });

    it('tsh scp -r copies a tree both ways byte for byte; -p keeps times and modes', async () => {
      const local = path.join(dir.path, 'scp-tree');
      await mkdir(path.join(local, 'sub', 'deeper'), { recursive: true });
      const files: Record<string, Buffer> = { 'a.bin': randomBytes(1_000_000), 'sub/b.txt': Buffer.from('b\n'), 'sub/deeper/c.bin': randomBytes(70_000) };
      for (const [name, data] of Object.entries(files)) await writeFile(path.join(local, name), data);
      const old = new Date('2020-01-02T03:04:05Z');
      await utimes(path.join(local, 'sub', 'b.txt'), old, old);
      await chmod(path.join(local, 'sub', 'b.txt'), 0o640);
      const remote = path.join(dir.path, 'scp-remote');
      const up = await tshRun(['scp', ...via(), '-r', '-p', local, `${LOGIN}@web-1:${remote}`]);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const back = path.join(dir.path, 'scp-back');
      await mkdir(back);
      const down = await tshRun(['scp', ...via(), '-r', '-p', `${LOGIN}@web-1:${remote}`, back]);
      expect(down.stderr).toBe('');
      expect(down.code).toBe(0);
      for (const [name, data] of Object.entries(files)) {
        expect(sha256(await readFile(path.join(remote, name)))).toBe(sha256(data));
        expect(sha256(await readFile(path.join(back, 'scp-remote', name)))).toBe(sha256(data));
      }
      const st = await stat(path.join(back, 'scp-remote', 'sub', 'b.txt'));
      expect(st.mtime.toISOString()).toBe(old.toISOString());
      expect(st.mode & 0o777).toBe(0o640);
      // One file into a new name, and a directory without -r.
      const one = await tshRun(['scp', ...via(), path.join(local, 'a.bin'), `${LOGIN}@web-1:${remote}-one`]);
      expect(one.code, one.stderr).toBe(0);
      expect(sha256(await readFile(`${remote}-one`))).toBe(sha256(files['a.bin']!));
      const noR = await tshRun(['scp', ...via(), local, `${LOGIN}@web-1:${remote}-nor`]);
      expect(noR.code).toBe(1);
      expect(noR.stderr).toBe(`ERROR: ${local} is a directory, use -r to copy it\n`);
    });
    // Last: a node that cannot open the agent channel must not take the other tests down with it.
    it('-A forwards the local agent', async () => {
      const agentDir = await makeTempDir('tp-agent-');
      const sock = path.join(agentDir.path, 'agent.sock');
      const agent = spawn(sshAgent.path!, ['-D', '-a', sock], { stdio: 'ignore' });
      try {
        const key = path.join(agentDir.path, 'id');
        await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'forwarded-key', '-f', key]);
        for (let i = 0; i < 50; i++) {
          if (await run('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).then(() => true, () => false)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const res = await tshRun(['ssh', ...via(), '-A', `${LOGIN}@web-1`, 'ssh-add -l'], '', { SSH_AUTH_SOCK: sock });
        expect(res.stderr).toBe('');
        expect(res.stdout.toString()).toMatch(/forwarded-key \(ED25519\)/);
        const without = await tshRun(['ssh', ...via(), `${LOGIN}@web-1`, 'echo "[$SSH_AUTH_SOCK]"'], '', { SSH_AUTH_SOCK: sock });
        expect(without.stdout.toString()).toBe('[]\n');
      } finally {
        agent.kill();
        await agentDir.remove();
      }
    });
  });

  it('tsh proxy ssh refuses a proxy it cannot verify without --insecure', async () => {
    const res = await cluster.tsh(['proxy', 'ssh', `${LOGIN}@web-1:3022`]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^ERROR: cannot verify the TLS certificate of proxy 127\.0\.0\.1:\d+ \(self-signed certificate[^)]*\); rerun with --insecure/);
  });
});
