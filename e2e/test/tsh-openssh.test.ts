/**
 * `tsh login`'s `known_hosts`, `tsh config` and `tsh proxy ssh` with the real OpenSSH programs (`ssh`, `scp`, `sftp`,
 * `rsync -e ssh`) against a real stock `sshd` that trusts the cluster's user CA and presents a host certificate from
 * the cluster's host CA (`tctl auth export`, `tctl auth sign --host`).
 *
 * The proxy side of the SSH routing is a STAND-IN written here (a TLS server speaking the contract's ALPN, request
 * line and answer line, then piping to the sshd): it checks the user's TLS certificate against the cluster's user CA,
 * but none of the proxy's other checks.
 */

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSshCertificate, generateKeyPair, issueSshHostCert, toOpenSshPrivateKey } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { makeTestPki, requireTool } from '@teleport-ts/testkit';
import { makeTempDir, type TempDir } from '../../packages/core/src/ca/testing/run.js';
import { startSshd, type RunningSshd } from '../../packages/core/src/ca/testing/sshd.js';
import { bin, completeInvite, freePort, startCluster, type TestCluster } from './tsh-cluster.js';

const run = promisify(execFile);
const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const ssh = requireTool('ssh', 'openssh-client');
const rsync = requireTool('rsync', 'rsync');
const sshAgent = requireTool('ssh-agent', 'openssh-client');

const PASSWORD = 'correct horse battery staple';
const CLUSTER = 'e2e.example.com';
const LOGIN = 'root';

interface StandIn {
  port: number;
  requests: unknown[];
  close(): Promise<void>;
}

/** The stand-in for the proxy's SSH routing: `nodes` maps a target host to a local sshd port. */
async function startStandInProxy(dir: string, userCa: string, nodes: Map<string, number>): Promise<StandIn> {
  const pki = await makeTestPki(dir);
  const [cert, key] = await Promise.all([readFile(pki.serverCert, 'utf8'), readFile(pki.serverKey, 'utf8')]);
  const requests: unknown[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert, key, ca: userCa, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['teleport-proxy-ssh'] }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      const request = JSON.parse(buffered.subarray(0, nl).toString()) as { host: string; port: number; cluster: string };
      requests.push(request);
      const port = nodes.get(request.host);
      if (port === undefined) {
        socket.end(`${JSON.stringify({ ok: false, code: 'ERR_TP_NOT_FOUND', error: `target host ${request.host} not found` })}\n`);
        return;
      }
      const upstream = net.connect(port, '127.0.0.1', () => {
        socket.write(`${JSON.stringify({ ok: true, node: { name: `uuid-${request.host}`, hostname: request.host, addr: `127.0.0.1:${port}` } })}\n`);
        if (buffered.length > nl + 1) upstream.write(buffered.subarray(nl + 1));
        socket.pipe(upstream).pipe(socket);
        socket.resume();
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

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

describe.skipIf(!sshd.available || !ssh.available || !rsync.available || !sshAgent.available)('tsh config and tsh proxy ssh with OpenSSH (stand-in proxy routing)', () => {
  let cluster: TestCluster;
  let dir: TempDir;
  let standIn: StandIn;
  let configFile: string;
  const servers: RunningSshd[] = [];
  const tctl = async (...args: string[]) => (await run(bin('tctl'), ['-c', cluster.config, ...args])).stdout;
  const sshArgs = (...args: string[]) => ['-F', configFile, '-o', 'BatchMode=yes', '-o', 'GlobalKnownHostsFile=/dev/null', ...args];

  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
    tshHome = cluster.tshHome;
    dir = await makeTempDir('tp-e2e-openssh-');
    await completeInvite(await cluster.addUser('alice', ['--roles=access', `--logins=${LOGIN}`]), PASSWORD);
    const login = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);

    // A stock sshd: the cluster's user CA for TrustedUserCAKeys, a host certificate from the cluster's host CA.
    const userCaKeys = (await tctl('auth', 'export', '--type=user'))
      .split('\n')
      .filter((l) => l.startsWith('cert-authority '))
      .map((l) => l.split(' ').slice(1, 3).join(' '));
    const out = path.join(dir.path, 'node1');
    await tctl('auth', 'sign', `--host=node1.${CLUSTER},node1`, '--format=openssh', `--out=${out}`, '--ttl=1h');
    const sftp = ['Subsystem sftp /usr/lib/openssh/sftp-server'];
    servers.push(
      await startSshd({
        sshd: sshd.path!,
        dir,
        name: 'node1',
        hostKey: await readFile(out, 'utf8'),
        hostCertificate: (await readFile(`${out}-cert.pub`, 'utf8')).trim(),
        trustedUserCaKeys: userCaKeys,
        extraConfig: sftp,
      }),
    );
    // The same, but its host certificate comes from a CA the cluster does not have.
    const [rogueCa, rogueKey] = await Promise.all([generateKeyPair('ed25519'), generateKeyPair('ed25519')]);
    const rogueCert = await issueSshHostCert({
      ca: rogueCa.privateKeyPem,
      publicKey: rogueKey.sshPublicKey,
      hostId: 'c0ffee00-0000-4000-8000-000000000002',
      clusterName: CLUSTER,
      nodeName: 'rogue',
      systemRole: 'Node',
      additionalPrincipals: [`rogue.${CLUSTER}`],
      clock: systemClock,
    });
    servers.push(
      await startSshd({
        sshd: sshd.path!,
        dir,
        name: 'rogue',
        hostKey: toOpenSshPrivateKey(rogueKey.privateKeyPem),
        hostCertificate: formatSshCertificate(rogueCert),
        trustedUserCaKeys: userCaKeys,
      }),
    );
    const userTlsCa = await tctl('auth', 'export', '--type=tls-user');
    standIn = await startStandInProxy(path.join(dir.path, 'pki'), userTlsCa, new Map([['node1', servers[0]!.port], ['rogue', servers[1]!.port]]));

    const config = await cluster.tsh(['config', `--proxy=127.0.0.1:${standIn.port}`, '--insecure']);
    expect(config.code, config.stderr).toBe(0);
    configFile = await dir.write('ssh_config', config.stdout);
  }, 120_000);

  afterAll(async () => {
    await standIn?.close();
    await Promise.all(servers.map((s) => s.stop()));
    await cluster?.stop();
    await dir?.remove();
  });

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
        `    ProxyCommand "${bin('tsh')}" proxy ssh --cluster=${CLUSTER} --proxy=127.0.0.1:${standIn.port} --insecure %r@%h:%p`,
      ].join('\n'),
    );
    expect(text).toMatch(/# End generated Teleport configuration\n$/);
  });

  it('ssh with the config runs a command on the node through tsh proxy ssh, with its exit code', async () => {
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@node1.${CLUSTER}`, 'echo hi; echo err >&2; exit 3'));
    expect(res.stderr).toContain('err');
    expect(res.stdout.toString()).toBe('hi\n');
    expect(res.code).toBe(3);
    // tsh proxy ssh sent the node's name without the cluster suffix, and the port OpenSSH was configured with.
    expect(standIn.requests).toContainEqual({ host: 'node1', port: 3022, cluster: CLUSTER });
  });

  it('streams 20 MB through ssh both ways unchanged', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@node1.${CLUSTER}`, 'cat'), data);
    expect(res.code, res.stderr).toBe(0);
    expect(sha256(res.stdout)).toBe(sha256(data));
  });

  it('scp, sftp and rsync -e ssh copy files both ways with the config', async () => {
    const local = path.join(dir.path, 'tree');
    await mkdir(path.join(local, 'sub'), { recursive: true });
    const data = randomBytes(300_000);
    await writeFile(path.join(local, 'sub', 'blob'), data);
    const remote = path.join(dir.path, 'remote');
    const host = `${LOGIN}@node1.${CLUSTER}`;

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

  it("ssh refuses a node whose host certificate is not from the cluster's host CA", async () => {
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@rogue.${CLUSTER}`, 'echo should-not-run'));
    expect(res.code).toBe(255);
    expect(res.stdout.toString()).toBe('');
    expect(res.stderr).toMatch(/Host key verification failed/);
  });

  it("tsh proxy ssh prints the proxy's refusal and exits 1; ssh reports it", async () => {
    const direct = await cluster.tsh(['proxy', 'ssh', `--proxy=127.0.0.1:${standIn.port}`, '--insecure', `${LOGIN}@nosuch.${CLUSTER}:3022`]);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toBe('ERROR: target host nosuch not found\n');
    const res = await runProgram('ssh', sshArgs(`${LOGIN}@nosuch.${CLUSTER}`, 'true'));
    expect(res.code).toBe(255);
    expect(res.stderr).toContain('ERROR: target host nosuch not found');
  });

  describe('tsh ssh and tsh scp (core SSH client through the routing)', () => {
    const via = () => [`--proxy=127.0.0.1:${standIn.port}`, '--insecure'];
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
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@node1`, 'echo hi; echo err >&2; exit 3']);
      expect(res.stdout.toString()).toBe('hi\n');
      expect(res.stderr).toBe('err\n');
      expect(res.code).toBe(3);
      const flags = await tshRun(['ssh', ...via(), '-l', LOGIN, `node1.${CLUSTER}`, 'echo', '-n', 'x', '-l']);
      expect(flags.stderr).toBe('');
      expect(flags.stdout.toString()).toBe('x -l');
      expect(flags.code).toBe(0);
    });

    it('pipes 20 MB of stdin to the command and its output back unchanged', async () => {
      const data = randomBytes(20 * 1024 * 1024);
      const res = await tshRun(['ssh', ...via(), `${LOGIN}@node1`, 'sha256sum'], data);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout.toString()).toBe(`${sha256(data)}  -\n`);
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
      expect(res.stderr).toBe('ERROR: target host nosuch not found\n');
    });

    it('-L forwards a local port to an HTTP server as seen from the node; -N runs no command', async () => {
      const http = await import('node:http');
      const web = http.createServer((_req, res) => res.end('hello through -L'));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      const webPort = (web.address() as net.AddressInfo).port;
      const localPort = await freePort();
      const child = spawn(bin('tsh'), ['ssh', ...via(), '-N', '-L', `${localPort}:127.0.0.1:${webPort}`, `${LOGIN}@node1`], {
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
        const res = await tshRun(['ssh', ...via(), '-R', `127.0.0.1:${remotePort}:127.0.0.1:${port}`, `${LOGIN}@node1`, `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${remotePort}; cat <&3'`]);
        expect(res.stderr).toBe('');
        expect(res.stdout.toString()).toBe('hello through -R\n');
      } finally {
        server.close();
      }
    });

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
        const res = await tshRun(['ssh', ...via(), '-A', `${LOGIN}@node1`, 'ssh-add -l'], '', { SSH_AUTH_SOCK: sock });
        expect(res.stderr).toBe('');
        expect(res.stdout.toString()).toMatch(/forwarded-key \(ED25519\)/);
        const without = await tshRun(['ssh', ...via(), `${LOGIN}@node1`, 'echo "[$SSH_AUTH_SOCK]"'], '', { SSH_AUTH_SOCK: sock });
        expect(without.stdout.toString()).toBe('[]\n');
      } finally {
        agent.kill();
        await agentDir.remove();
      }
    });

    it('-t gives the command a PTY of the terminal size and follows resizes (tmux)', async () => {
      const session = `tsh-pty-${process.pid}`;
      const script = `stty size; read line; stty size`;
      const cmd = `TELEPORT_HOME=${tshHome} ${bin('tsh')} ssh ${via().join(' ')} -t ${LOGIN}@node1 '${script}'; sleep 30`;
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
      const up = await tshRun(['scp', ...via(), '-r', '-p', local, `${LOGIN}@node1:${remote}`]);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const back = path.join(dir.path, 'scp-back');
      await mkdir(back);
      const down = await tshRun(['scp', ...via(), '-r', '-p', `${LOGIN}@node1:${remote}`, back]);
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
      const one = await tshRun(['scp', ...via(), path.join(local, 'a.bin'), `${LOGIN}@node1:${remote}-one`]);
      expect(one.code, one.stderr).toBe(0);
      expect(sha256(await readFile(`${remote}-one`))).toBe(sha256(files['a.bin']!));
      const noR = await tshRun(['scp', ...via(), local, `${LOGIN}@node1:${remote}-nor`]);
      expect(noR.code).toBe(1);
      expect(noR.stderr).toBe(`ERROR: ${local} is a directory, use -r to copy it\n`);
    });
  });

  it('tsh proxy ssh refuses a proxy it cannot verify without --insecure', async () => {
    const res = await cluster.tsh(['proxy', 'ssh', `--proxy=127.0.0.1:${standIn.port}`, `${LOGIN}@node1:3022`]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^ERROR: cannot verify the TLS certificate of proxy 127\.0\.0\.1:\d+ \(certificate signed by an unknown authority\); rerun with --insecure/);
  });
});
