/**
 * SSH nodes end to end, with the built programs and real OpenSSH: auth and proxy in one daemon; a node in another
 * that joins through the proxy with a `tctl tokens add --type=node` token and the CA pin, opens no port and dials a
 * reverse tunnel; `tsh ls` and `tctl nodes ls` list it with its static and dynamic labels.
 *
 * OpenSSH's `ssh` reaches the node's own SSH server, which presents the node's host certificate (checked against the
 * host CA, never trusted on first use):
 *
 *   ssh -o ProxyCommand=<fixtures/proxy-ssh.mjs> -> proxy (teleport-proxy-ssh) -> reverse tunnel -> node
 *
 * An agentless stock sshd (`tctl create` of a `sub_kind: openssh` node, host certificate from `tctl auth sign
 * --format=openssh --host=...`) is reached the same way, the proxy dialing it directly.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '@teleport-ts/testkit';
import { bin, completeInvite, freePort, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const execFileP = promisify(execFile);
const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const ssh = requireTool('ssh', 'openssh-client');
const ss = requireTool('ss', 'iproute2');
const PASSWORD = 'correct horse battery staple';
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'proxy-ssh.mjs');
const LOGIN = 'root';

/** A stock sshd on `port` with certificate authentication only. */
async function startStockSshd(options: { dir: string; name: string; port: number; hostKey: string; hostCert: string; userCa: string }): Promise<{ stop(): Promise<void>; log(): string }> {
  const config = path.join(options.dir, `${options.name}_sshd_config`);
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${options.port}`,
      `HostKey ${options.hostKey}`,
      `HostCertificate ${options.hostCert}`,
      `TrustedUserCAKeys ${options.userCa}`,
      'AuthorizedKeysFile none',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'LogLevel VERBOSE',
      `PidFile ${path.join(options.dir, `${options.name}.pid`)}`,
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const child: ChildProcess = spawn(sshd.path!, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!log.includes(`Server listening on 127.0.0.1 port ${options.port}`)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** TCP ports a process listens on (from `ss -ltnp`). */
async function listeningPorts(pid: number): Promise<string[]> {
  const { stdout } = await execFileP(ss.path!, ['-ltnpH']);
  return stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => l.trim().split(/\s+/)[3] ?? '');
}

/** Finds a file under `dir` whose name ends with `suffix`. */
async function findFile(dir: string, suffix: string): Promise<string> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix)) return path.join(entry.parentPath, entry.name);
  }
  throw new Error(`no *${suffix} under ${dir}`);
}

describe.skipIf(!sshd.available || !ssh.available || !ss.available)('SSH nodes: join, tsh ls, and routing through the proxy to OpenSSH', () => {
  let cluster: TestCluster;
  let node: RunningDaemon | undefined;
  let nodeArgs: string[];
  let agentless: { stop(): Promise<void>; log(): string } | undefined;
  let home: string;
  let pin: string;
  let opensshCaFile: string;
  let knownHosts: string;
  const creds = { tlsCert: '', tlsKey: '', sshKey: '', sshCert: '' };
  let joinedAt = 0;

  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);
  const tsh = (args: string[]) => runTsh(home, [...args, '--insecure']);

  /** `ssh` through the proxy with the fixture as ProxyCommand, the user's certificate, and the host CA as the only trust. */
  const sshThrough = (target: string, command: string[]) =>
    run(ssh.path!, [
      '-F', '/dev/null',
      '-i', creds.sshKey,
      '-o', `CertificateFile=${creds.sshCert}`,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'ConnectTimeout=15',
      '-o', 'LogLevel=ERROR',
      '-o', `ProxyCommand=${process.execPath} ${FIXTURE} ${cluster.proxyAddr} ${creds.tlsCert} ${creds.tlsKey} %h %p`,
      `${LOGIN}@${target}`,
      ...command,
    ]);

  /** The fixture alone: the proxy's answer to a route request, without SSH behind it. */
  const route = (host: string, port = 0) => run(process.execPath, [FIXTURE, cluster.proxyAddr, creds.tlsCert, creds.tlsKey, host, String(port)], { input: '' });

  async function waitForLs(check: (stdout: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ls = await tsh(['ls']);
      if (ls.code === 0 && check(ls.stdout)) return ls.stdout;
      if (Date.now() > deadline) throw new Error(`tsh ls never matched:\n${ls.stdout}${ls.stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
    pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;
    const invite = await cluster.addUser('alice', ['--roles=access', `--logins=${LOGIN}`]);
    await completeInvite(invite, PASSWORD);
    home = path.join(cluster.dir, 'tsh-alice');
    const login = await runTsh(home, ['login', `--proxy=${cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);
    creds.tlsCert = await findFile(path.join(home, 'keys'), 'alice-x509.pem');
    creds.tlsKey = await findFile(path.join(home, 'keys'), 'alice.key');
    creds.sshKey = path.join(path.dirname(creds.tlsCert), 'alice');
    creds.sshCert = await findFile(path.join(home, 'keys'), '-cert.pub');

    // What agentless OpenSSH servers trust (the openssh CA, with which the proxy logs in for the user) and what
    // clients trust (the host CA, never a host key on first use).
    const opensshCa = await tctl(['auth', 'export', '--type=openssh']);
    expect(opensshCa.code, opensshCa.stderr).toBe(0);
    opensshCaFile = path.join(cluster.dir, 'openssh_ca.pub');
    await writeFile(opensshCaFile, opensshCa.stdout.replace(/^cert-authority /gm, '').replace(/ clustername=\S+/g, ''));
    const hostCa = await tctl(['auth', 'export', '--type=host']);
    knownHosts = path.join(cluster.dir, 'known_hosts');
    await writeFile(knownHosts, hostCa.stdout);

    const tokenOut = await tctl(['tokens', 'add', '--type=node']);
    expect(tokenOut.code, tokenOut.stderr).toBe(0);
    expect(tokenOut.stdout).toContain('--roles=node');
    const token = /--token=([0-9a-f]+)/.exec(tokenOut.stdout)![1]!;
    const nodeConfig = path.join(cluster.dir, 'node.yaml');
    await writeFile(
      nodeConfig,
      [
        'version: v3',
        'teleport:',
        '  nodename: web-1',
        `  data_dir: ${path.join(cluster.dir, 'node-data')}`,
        'auth_service:',
        '  enabled: no',
        'proxy_service:',
        '  enabled: no',
        'ssh_service:',
        '  enabled: yes',
        '  labels:',
        '    team: web',
        '  commands:',
        '  - name: kernel',
        '    command: [uname, -s]',
        '    period: 1m',
        '',
      ].join('\n'),
    );
    nodeArgs = ['start', '-c', nodeConfig, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, '--labels=env=dev'];
    const started = Date.now();
    node = await startDaemon([...nodeArgs, `--token=${token}`]);
    await waitForLs((s) => /^web-1 /m.test(s), 30_000);
    joinedAt = Date.now() - started;

  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await agentless?.stop();
    await cluster?.stop();
  });

  it('joins with a --type=node token through the proxy, opens no port, and is listed by tsh ls with its labels within 10 s', async () => {
    expect(joinedAt).toBeLessThan(10_000);
    expect(await listeningPorts(node!.pid)).toEqual([]);
    expect(node!.output()).toContain('reached through the reverse tunnel (no listening port)');
    const ls = await tsh(['ls']);
    expect(ls.stdout).toMatch(/^Node Name\s+Address\s+Labels\s*$/m);
    expect(ls.stdout).toMatch(/^web-1\s+⟵ Tunnel\s+env=dev,kernel=Linux,team=web\s*$/m);
    const verbose = await tsh(['ls', '-v']);
    expect(verbose.stdout).toMatch(/^web-1\s+[0-9a-f-]{36}\s+⟵ Tunnel\s+env=dev,kernel=Linux,team=web\s*$/m);
    expect((await tsh(['ls', 'env=prod'])).stdout).not.toContain('web-1');
    expect((await tsh(['ls', 'team=web'])).stdout).toContain('web-1');
    expect((await tsh(['ls', '--search=linux'])).stdout).toContain('web-1');
    expect((await tsh(['ls', '--search=nomatch'])).stdout).not.toContain('web-1');
    const json = JSON.parse((await tsh(['ls', '--format=json'])).stdout) as { kind: string; sub_kind: string; spec: { hostname: string; cmd_labels: Record<string, { result: string }> } }[];
    expect(json).toEqual([expect.objectContaining({ kind: 'node', sub_kind: 'teleport', spec: expect.objectContaining({ hostname: 'web-1', use_tunnel: true }) })]);
    expect(json[0]!.spec.cmd_labels['kernel']!.result).toBe('Linux');

    const tctlLs = await tctl(['nodes', 'ls']);
    expect(tctlLs.stdout).toMatch(/^Host\s+UUID\s+Public Address\s+Labels\s+Version\s*$/m);
    expect(tctlLs.stdout).toMatch(/^web-1\s+[0-9a-f-]{36}\s+⟵ Tunnel\s+env=dev,kernel=Linux,team=web\s+\S+\s*$/m);
    const yaml = await tctl(['get', 'nodes']);
    expect(yaml.stdout).toMatch(/^kind: node$/m);
    expect(yaml.stdout).toMatch(/^ {2}hostname: web-1$/m);
    expect(yaml.stdout).toMatch(/^ {2}expires: /m);
  });

  it('carries OpenSSH from ssh through the proxy and the node\'s reverse tunnel to the node\'s SSH server (host certificate checked against the host CA)', async () => {
    const res = await sshThrough('web-1.e2e.example.com', ['echo hi; exit 3']);
    expect(res.stdout, res.stderr).toBe('hi\n');
    expect(res.code).toBe(3);
    // By UUID too (`<uuid>.<cluster>`, a principal of the node's host certificate).
    const uuid = /^web-1\s+([0-9a-f-]{36})/m.exec((await tsh(['ls', '-v'])).stdout)![1]!;
    const byId = await sshThrough(`${uuid}.e2e.example.com`, ['hostname >/dev/null && echo ok']);
    expect(byId.stdout, byId.stderr).toBe('ok\n');
  }, 60_000);

  it('records an interactive session on the node (node mode), uploads it, and tsh recordings ls / tsh play show what was typed', async () => {
    const sshTty = (input: string) =>
      run(ssh.path!, [
        '-tt', '-F', '/dev/null', '-i', creds.sshKey, '-o', `CertificateFile=${creds.sshCert}`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
        '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR', '-o', `ProxyCommand=${process.execPath} ${FIXTURE} ${cluster.proxyAddr} ${creds.tlsCert} ${creds.tlsKey} %h %p`,
        `${LOGIN}@web-1.e2e.example.com`,
      ], { input });
    const session = await sshTty('echo marker-$((40+2))\nexit\n');
    expect(session.stdout, session.stderr).toContain('marker-42');
    // Uploaded when the session ends; listed for its participant.
    const deadline = Date.now() + 20_000;
    let id: string | undefined;
    while (id === undefined) {
      const ls = await tsh(['recordings', 'ls', '--format=json']);
      id = (JSON.parse(ls.stdout || '[]') as { sid?: string; session_id?: string; id?: string }[]).map((r) => r.sid ?? r.session_id ?? r.id).find((x) => x !== undefined);
      if (id === undefined) {
        expect(Date.now() < deadline, `no recording listed:\n${ls.stdout}${ls.stderr}`).toBe(true);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const play = await tsh(['play', '--format=text', id]);
    expect(play.code, play.stderr).toBe(0);
    expect(play.stdout).toContain('marker-42');
  }, 60_000);

  it('refuses unknown, UUID-like and ambiguous targets with Teleport\'s texts, and audits the refusals', async () => {
    const unknown = await route('nosuchhost');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ERROR: direct dialing to nodes not found in inventory is not supported\ncode: ERR_TP_NODE_NOT_FOUND');
    const uuid = await route('5c3f8a52-1b7e-4c39-9a52-0d1e2f3a4b5c');
    expect(uuid.stderr).toContain('ERROR: unable to locate node matching UUID-like target 5c3f8a52-1b7e-4c39-9a52-0d1e2f3a4b5c');

    const twins = path.join(cluster.dir, 'twins.yaml');
    const twin = (name: string, port: number) =>
      ['kind: node', 'sub_kind: openssh', 'version: v2', 'metadata:', `  name: ${name}`, 'spec:', `  addr: 127.0.0.1:${port}`, '  hostname: twin'].join('\n');
    await writeFile(twins, `${twin('2f0c8d7e-1111-4c39-9a52-0d1e2f3a4b5c', 1)}\n---\n${twin('2f0c8d7e-2222-4c39-9a52-0d1e2f3a4b5c', 2)}\n`);
    const created = await tctl(['create', twins]);
    expect(created.code, created.stderr).toBe(0);
    const ambiguous = await route('twin');
    expect(ambiguous.stderr).toContain('ERROR: ambiguous host could match multiple nodes\ncode: ERR_TP_NODE_AMBIGUOUS');
    // The UUID picks one of them; nothing listens there, which the answer says.
    const offline = await route('2f0c8d7e-1111-4c39-9a52-0d1e2f3a4b5c');
    expect(offline.stderr).toContain('ERROR: failed to connect to 127.0.0.1:1: ECONNREFUSED');
    for (const id of ['2f0c8d7e-1111-4c39-9a52-0d1e2f3a4b5c', '2f0c8d7e-2222-4c39-9a52-0d1e2f3a4b5c']) {
      expect((await tctl(['rm', `node/${id}`])).code).toBe(0);
    }

    const deadline = Date.now() + 10_000;
    for (;;) {
      const events = await tctl(['audit', 'events', '--type=auth', '--format=json']);
      const found = (JSON.parse(events.stdout || '[]') as { user?: string; error?: string; server_hostname?: string }[]).filter((e) => e.user === 'alice');
      if (found.some((e) => e.server_hostname === 'nosuchhost' && e.error === 'direct dialing to nodes not found in inventory is not supported')) break;
      if (Date.now() > deadline) throw new Error(`no auth event for the refusal: ${events.stdout}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }, 60_000);

  it('refuses a locked user at the proxy with the lock\'s message, and lets her in once the lock is removed', async () => {
    const created = await tctl(['lock', '--user=alice', '--message=incident 7', '--ttl=1h']);
    const name = /Created a lock with name "([0-9a-f-]{36})"/.exec(created.stdout)?.[1];
    expect(name, created.stdout + created.stderr).toBeDefined();
    try {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const res = await route('web-1');
        if (res.stderr.includes('ERROR: lock targeting User:"alice" is in force: incident 7\ncode: ERR_TP_LOCKED')) break;
        if (Date.now() > deadline) throw new Error(`the lock never refused the route: ${res.stderr}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      expect((await tctl(['rm', `locks/${name}`])).code).toBe(0);
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      const res = await sshThrough('web-1.e2e.example.com', ['echo unlocked']);
      if (res.stdout === 'unlocked\n') break;
      if (Date.now() > deadline) throw new Error(`still refused after the lock was removed: ${res.stderr}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }, 60_000);

  it('reaches an agentless stock sshd registered with tctl create (sub_kind: openssh) through the proxy, which logs in with the openssh CA', async () => {
    const signed = await tctl(['auth', 'sign', '--format=openssh', '--host=agentless-1,agentless-1.e2e.example.com,127.0.0.1', `--out=${path.join(cluster.dir, 'agentless')}`]);
    expect(signed.code, signed.stderr).toBe(0);
    const port = await freePort();
    agentless = await startStockSshd({
      dir: cluster.dir,
      name: 'agentless',
      port,
      hostKey: path.join(cluster.dir, 'agentless'),
      hostCert: path.join(cluster.dir, 'agentless-cert.pub'),
      userCa: opensshCaFile,
    });
    const file = path.join(cluster.dir, 'agentless.yaml');
    await writeFile(
      file,
      ['kind: node', 'sub_kind: openssh', 'version: v2', 'metadata:', '  name: 7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f', '  labels:', '    env: dev', 'spec:', `  addr: 127.0.0.1:${port}`, '  hostname: agentless-1', ''].join('\n'),
    );
    const created = await tctl(['create', file]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('node "7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f" has been created');
    expect((await tsh(['ls'])).stdout).toMatch(new RegExp(`^agentless-1\\s+127\\.0\\.0\\.1:${port}\\s+env=dev\\s*$`, 'm'));
    const res = await sshThrough('agentless-1.e2e.example.com', ['echo agentless; exit 5']);
    expect(res.stdout, res.stderr).toBe('agentless\n');
    expect(res.code).toBe(5);
    // The proxy logged in with a certificate of the openssh CA for alice's login.
    expect(agentless.log()).toMatch(/Accepted publickey for root .* ID alice/);
    // The sshd trusts only the openssh CA: the user's own certificate does not open it without the proxy.
    const direct = await run(ssh.path!, ['-F', '/dev/null', '-i', creds.sshKey, '-o', `CertificateFile=${creds.sshCert}`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-p', String(port), `${LOGIN}@127.0.0.1`, 'echo bypassed']);
    expect(direct.stdout).toBe('');
    expect(direct.code).toBe(255);
  }, 60_000);

  it('runs a node in direct mode (ssh_service.listen_addr): it listens, is listed with its address, and answers OpenSSH directly and through the proxy', async () => {
    const tokenOut = await tctl(['tokens', 'add', '--type=node', '--format=text']);
    const port = await freePort();
    const config = path.join(cluster.dir, 'direct.yaml');
    await writeFile(
      config,
      ['version: v3', 'teleport:', '  nodename: web-2', `  data_dir: ${path.join(cluster.dir, 'direct-data')}`, 'auth_service:', '  enabled: no', 'proxy_service:', '  enabled: no', 'ssh_service:', '  enabled: yes', `  listen_addr: 127.0.0.1:${port}`, ''].join('\n'),
    );
    const diagPort = await freePort();
    const direct = await startDaemon(['start', '-c', config, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, `--token=${tokenOut.stdout.trim()}`, `--diag-addr=127.0.0.1:${diagPort}`]);
    try {
      expect((await listeningPorts(direct.pid)).sort()).toEqual([`127.0.0.1:${diagPort}`, `127.0.0.1:${port}`].sort());
      // Ready once its tunnel is up.
      const readyBy = Date.now() + 15_000;
      while ((await fetch(`http://127.0.0.1:${diagPort}/readyz`)).status !== 200) {
        if (Date.now() > readyBy) throw new Error('the node never became ready');
        await new Promise((r) => setTimeout(r, 200));
      }
      await waitForLs((s) => new RegExp(`^web-2\\s+⟵ Tunnel`, 'm').test(s), 30_000);
      const json = JSON.parse((await tsh(['ls', '--search=web-2', '--format=json'])).stdout || '[]') as { spec: { hostname: string; addr: string } }[];
      expect(json.find((n) => n.spec.hostname === 'web-2')?.spec.addr).toBe(`127.0.0.1:${port}`);
      // Straight to its port: the host certificate names 127.0.0.1 in direct mode.
      const anyHost = path.join(cluster.dir, 'known_hosts_any');
      await writeFile(anyHost, (await readFile(knownHosts, 'utf8')).replace(/^@cert-authority \S+/gm, '@cert-authority *'));
      const res = await run(ssh.path!, [
        '-F', '/dev/null', '-i', creds.sshKey, '-o', `CertificateFile=${creds.sshCert}`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
        '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${anyHost}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
        '-p', String(port), `${LOGIN}@127.0.0.1`, 'echo direct',
      ]);
      expect(res.stdout, res.stderr).toBe('direct\n');
      const routed = await sshThrough('web-2.e2e.example.com', ['echo routed']);
      expect(routed.stdout, routed.stderr).toBe('routed\n');
    } finally {
      await direct.stop();
    }
  }, 90_000);

  it('drops a killed node from tsh ls after its TTL, and a restarted one (same data dir, no token) comes back', async () => {
    const before = await tsh(['ls', '-v']);
    const uuid = /^web-1\s+([0-9a-f-]{36})/m.exec(before.stdout)![1]!;
    await node!.stop();
    node = undefined;
    const killedAt = Date.now();
    await waitForLs((s) => !/^web-1 /m.test(s), 120_000);
    // The heartbeat TTL bounds it (90 s).
    expect(Date.now() - killedAt).toBeLessThan(105_000);
    node = await startDaemon(nodeArgs);
    await waitForLs((s) => /^web-1 /m.test(s), 30_000);
    const after = await tsh(['ls', '-v']);
    expect(after.stdout).toContain(uuid);
    const res = await sshThrough('web-1.e2e.example.com', ['echo back']);
    expect(res.stdout, res.stderr).toBe('back\n');
  }, 180_000);
});
