/** Test-only: a real OpenSSH sshd on a free loopback port, configured for certificate authentication. */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TempDir } from './run.js';

export interface SshdOptions {
  /** Path of the sshd binary. */
  sshd: string;
  dir: TempDir;
  /** OpenSSH-format host private key (its `.pub` is not needed). */
  hostKey: string;
  /** Host certificate line to present, if any. */
  hostCertificate?: string;
  /** CA public key lines trusted for user certificates. */
  trustedUserCaKeys: readonly string[];
  /** Name prefix for the files, so several sshds can share a directory. */
  name: string;
  /** More sshd_config lines (e.g. `Subsystem sftp ...`). */
  extraConfig?: readonly string[];
}

export interface RunningSshd {
  port: number;
  /** Everything sshd logged so far (`-e`). */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function startOnce(options: SshdOptions, port: number): Promise<RunningSshd> {
  const { dir, name } = options;
  const hostKeyPath = await dir.write(`${name}_host_key`, options.hostKey);
  const caPath = await dir.write(`${name}_user_ca.pub`, options.trustedUserCaKeys.join('\n') + '\n');
  const lines = [
    `ListenAddress 127.0.0.1:${port}`,
    `HostKey ${hostKeyPath}`,
    `TrustedUserCAKeys ${caPath}`,
    'AuthorizedKeysFile none',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    'LogLevel DEBUG1',
    `PidFile ${join(dir.path, `${name}.pid`)}`,
    ...(options.extraConfig ?? []),
  ];
  if (options.hostCertificate) lines.push(`HostCertificate ${await dir.write(`${name}_host_key-cert.pub`, options.hostCertificate + '\n')}`);
  const configPath = await dir.write(`${name}_sshd_config`, lines.join('\n') + '\n');
  // sshd's privilege separation directory; present on a normal install, missing in minimal containers.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });

  const child: ChildProcess = spawn(options.sshd, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    const check = (): void => {
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  if (!ready) {
    await stop();
    throw new Error(`sshd did not start:\n${log}`);
  }
  return { port, log: () => log, stop };
}

/** Starts sshd on a free port (retrying if another process grabbed the port in between). */
export async function startSshd(options: SshdOptions): Promise<RunningSshd> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
