/**
 * tsh after a host CA rotation, with the built programs: auth and proxy in one daemon, an SSH node in another.
 * - the proxy's public `GET /webapi/auth/export` answers what `tctl auth export` prints, for each type, without
 *   credentials, and refuses an unknown type with a one-line 400;
 * - a profile logged in before a (manual) host CA rotation to standby keeps reaching the node: tsh finds the node's
 *   new host certificate untrusted, refreshes `known_hosts` from the proxy's export, and retries once, with no new
 *   login; `known_hosts` then holds the new host CA key only, and the next `tsh ssh` needs no refresh.
 */

import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '@teleport-ts/testkit';
import { bin, completeInvite, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const PASSWORD = 'correct horse battery staple';
const LOGIN = os.userInfo().username;

/** A GET on the proxy's web API with no client certificate and no cookie. */
function webGet(proxyAddr: string, urlPath: string): Promise<{ status: number; type: string; text: string }> {
  const [host, port] = proxyAddr.split(':');
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port: Number(port), path: urlPath, method: 'GET', rejectUnauthorized: false, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `type base64` keys of the `@cert-authority` lines in a known_hosts text. */
const caKeys = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('@cert-authority '))
    .map((l) => l.split(/\s+/).slice(2, 4).join(' '));

describe('tsh refreshes the host CAs from the proxy after a host CA rotation', () => {
  let cluster: TestCluster;
  let node: RunningDaemon | undefined;
  let home: string;
  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);

  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;
    const invite = await cluster.addUser('alice', ['--roles=access', `--logins=${LOGIN}`]);
    await completeInvite(invite, PASSWORD);
    const token = /--token=([0-9a-f]+)/.exec((await tctl(['tokens', 'add', '--type=node'])).stdout)![1]!;
    const nodeConfig = path.join(cluster.dir, 'node.yaml');
    const lines = ['version: v3', 'teleport:', '  nodename: hostca-node', `  data_dir: ${path.join(cluster.dir, 'node-data')}`];
    await writeFile(nodeConfig, [...lines, 'auth_service:', '  enabled: no', 'proxy_service:', '  enabled: no', 'ssh_service:', '  enabled: yes', ''].join('\n'));
    node = await startDaemon(['start', '-c', nodeConfig, `--proxy-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, `--token=${token}`]);
    home = path.join(cluster.dir, 'tsh-before-rotation');
    const login = await runTsh(home, ['login', `--proxy=${cluster.proxyAddr}`, '--user=alice', '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.code, login.stderr).toBe(0);
    await waitUntil('the node to be listed', async () => ((await runTsh(home, ['ls', '--insecure'])).stdout.includes('hostca-node') ? true : undefined), 30_000);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await cluster?.stop();
  });

  it('GET /webapi/auth/export answers as tctl auth export, without credentials; an unknown type is a one-line 400', async () => {
    for (const type of ['host', 'user', 'tls-host']) {
      const web = await webGet(cluster.proxyAddr, `/webapi/auth/export?type=${type}`);
      const printed = await tctl(['auth', 'export', `--type=${type}`]);
      expect(printed.code, printed.stderr).toBe(0);
      expect(web.status).toBe(200);
      expect(web.type).toBe('text/plain; charset=utf-8');
      // tctl prints as Go's fmt.Println: one newline more.
      expect(`${web.text}\n`).toBe(printed.stdout);
    }
    expect((await webGet(cluster.proxyAddr, '/webapi/auth/export?type=tls')).text).toBe((await webGet(cluster.proxyAddr, '/webapi/auth/export?type=tls-host')).text);
    const user = (await webGet(cluster.proxyAddr, '/webapi/auth/export?type=user')).text;
    const host = (await webGet(cluster.proxyAddr, '/webapi/auth/export?type=host')).text;
    const all = (await webGet(cluster.proxyAddr, '/v1/webapi/auth/export')).text;
    // No type: the host CA's lines, then the user CA's, as Teleport's export and `tctl auth export` without --type.
    expect(all).toBe(host + user);
    expect(`${all}\n`).toBe((await tctl(['auth', 'export'])).stdout);
    const bad = await webGet(cluster.proxyAddr, '/webapi/auth/export?type=nope');
    expect(bad.status).toBe(400);
    expect(bad.text.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(bad.text).error).toMatchObject({ kind: 'bad-parameter', message: 'unsupported type "nope", use one of: host, user, tls, tls-host' });
  });

  it('an old profile reaches the node after a host CA rotation to standby, with no new login', async () => {
    const knownHosts = path.join(home, 'known_hosts');
    const before = await readFile(knownHosts, 'utf8');
    const oldKeys = caKeys(before);
    expect(oldKeys).toHaveLength(1);
    const first = await runTsh(home, ['ssh', '--insecure', `${LOGIN}@hostca-node`, 'echo', 'before-ok']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('before-ok');
    const modeBefore = (await stat(knownHosts)).mode & 0o777;

    let last = '';
    const caughtUp = () =>
      waitUntil(
        'the node and the proxy on the current host CA',
        async () => {
          const st = await tctl(['auth', 'rotate', 'status']);
          last = st.stdout + st.stderr;
          return /All \d+ agents and proxies are on the current certificate authorities/.test(st.stdout) ? true : undefined;
        },
        30_000,
        () => `${last}\n--- node:\n${node!.output().split('\n').slice(-20).join('\n')}`,
      );
    await caughtUp();
    for (const phase of ['init', 'update_clients', 'update_servers', 'standby']) {
      const res = await tctl(['auth', 'rotate', '--type=host', '--manual', `--phase=${phase}`, '--grace-period=1h']);
      expect(res.code, `${phase}: ${res.stderr}`).toBe(0);
      if (phase === 'update_servers') {
        // Mid-rotation the proxy exports both keys: the old one and the new one.
        expect(caKeys((await webGet(cluster.proxyAddr, '/webapi/auth/export?type=host')).text)).toHaveLength(2);
      }
      await caughtUp();
    }
    const exported = caKeys((await webGet(cluster.proxyAddr, '/webapi/auth/export?type=host')).text);
    expect(exported).toHaveLength(1);
    expect(exported).not.toEqual(oldKeys);

    // The same profile, no login: the node's certificate is from the new CA, which known_hosts does not hold yet.
    const after = await runTsh(home, ['ssh', '--insecure', '--debug', `${LOGIN}@hostca-node`, 'echo', 'after-ok']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('after-ok');
    expect(after.stderr).toContain('refreshed the host CAs from the proxy');
    const refreshed = await readFile(knownHosts, 'utf8');
    expect(caKeys(refreshed)).toEqual(exported);
    expect((await stat(knownHosts)).mode & 0o777).toBe(modeBefore);
    // Written as a login writes it (proxy, cluster and any host of the cluster), and nothing else changed.
    expect(refreshed.split('\n').filter((l) => l !== '')).toHaveLength(before.split('\n').filter((l) => l !== '').length);
    expect(refreshed.split(/\s+/)[1]).toBe(before.split(/\s+/)[1]);

    const again = await runTsh(home, ['ssh', '--insecure', '--debug', `${LOGIN}@hostca-node`, 'echo', 'again-ok']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('again-ok');
    expect(again.stderr).not.toContain('refreshed');
  }, 180_000);
});
