/** A proxy in its own process (`--roles=proxy`) joins the auth server with a token and a CA pin; tsh logs in through it. */

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, completeInvite, freePort, runTsh, startDaemon, writeAuthOnlyConfig, type RunningDaemon } from './tsh-cluster.js';

const run = promisify(execFile);

describe('proxy in its own process', () => {
  let dir: string;
  let auth: RunningDaemon;
  let proxy: RunningDaemon;
  let authConfig: string;
  let proxyAddr: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-proxy-'));
    const [authPort, proxyPort] = [await freePort(), await freePort()];
    proxyAddr = `127.0.0.1:${proxyPort}`;
    authConfig = await writeAuthOnlyConfig({ dir, authPort, cluster: 'split.example.com', publicAddr: proxyAddr });
    auth = await startDaemon(['start', '-c', authConfig]);
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(auth.output())![1]!;
    const { stdout } = await run(bin('tctl'), ['-c', authConfig, 'tokens', 'add', '--type=proxy']);
    const token = /--token=([0-9a-f]+)/.exec(stdout)![1]!;
    proxy = await startDaemon([
      'start',
      '--roles=proxy',
      `--data-dir=${path.join(dir, 'proxy')}`,
      `--token=${token}`,
      `--ca-pin=${pin}`,
      `--auth-server=127.0.0.1:${authPort}`,
      '-c',
      await writeProxyConfig(dir, proxyAddr),
    ]);
  });

  afterAll(async () => {
    await proxy?.stop();
    await auth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('joins with the token, serves the invite and the login', async () => {
    expect(proxy.output()).toContain(`proxy service is up on ${proxyAddr}`);
    expect(proxy.output()).toContain('proxy joined the cluster');
    const { stdout } = await run(bin('tctl'), ['-c', authConfig, 'users', 'add', 'zed', '--roles=access', '--logins=zed']);
    const invite = /https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(stdout)![0];
    expect(invite).toContain(`https://${proxyAddr}/`);
    await completeInvite(invite, 'correct horse battery staple');
    const home = path.join(dir, 'tsh');
    const login = await runTsh(home, ['login', `--proxy=${proxyAddr}`, '--user=zed', '--insecure'], { input: 'correct horse battery staple\n' });
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('  Cluster:            split.example.com\n');
    expect((await runTsh(home, ['status'])).stdout).toContain('  Logged in as:       zed\n');
  });
});

async function writeProxyConfig(dir: string, proxyAddr: string): Promise<string> {
  const file = path.join(dir, 'proxy.yaml');
  await writeFile(file, ['version: v3', 'proxy_service:', `  web_listen_addr: ${proxyAddr}`, ''].join('\n'));
  return file;
}
