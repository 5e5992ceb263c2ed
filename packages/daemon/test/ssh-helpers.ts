/** Test fixtures for the node's SSH server: CAs, certificates, a server on a loopback port, OpenSSH runners. */

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatSshCertificate, issueSshHostCert, issueSshUserCert, toOpenSshPrivateKey } from '@teleport-ts/core/ca';
import { generateKeyPair, type KeyPairPem } from '@teleport-ts/core/ca/keygen';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { assertNoLockInForce, findLockInForce, parseRole, type Lock, type Role } from '@teleport-ts/core/types';
import { newNodeSshServer, newRoleAccess, type NodeSshServer, type SshAuditEventName, type SshAuditFields, type SshSessionRecorder, type SshSessionStart, type NodeSshServerOptions } from '../src/roles/ssh/server/index.js';

export const HOUR = 3_600_000;

export interface Keys {
  userCa: KeyPairPem;
  otherCa: KeyPairPem;
  hostCa: KeyPairPem;
  host: KeyPairPem;
  user: KeyPairPem;
}

export async function makeKeys(): Promise<Keys> {
  const [userCa, otherCa, hostCa, host, user] = await Promise.all(Array.from({ length: 5 }, () => generateKeyPair('ed25519')));
  return { userCa: userCa!, otherCa: otherCa!, hostCa: hostCa!, host: host!, user: user! };
}

export interface UserCertOptions {
  logins?: string[];
  ca?: KeyPairPem;
  clock?: Clock;
  ttlMs?: number;
  roles?: string[];
  traits?: Record<string, string[]>;
  sourceAddresses?: string[];
}

export async function userCert(keys: Keys, o: UserCertOptions = {}): Promise<string> {
  const clock = o.clock ?? systemClock;
  const cert = await issueSshUserCert({
    ca: (o.ca ?? keys.userCa).privateKeyPem, publicKey: keys.user.sshPublicKey, username: 'alice',
    logins: o.logins ?? ['root'], roles: o.roles ?? ['dev'], traits: o.traits ?? { logins: ['root', 'postgres'] },
    expires: new Date(clock.now().getTime() + (o.ttlMs ?? HOUR)), clock,
    permitPortForwarding: true, permitAgentForwarding: true,
    ...(o.sourceAddresses ? { sourceAddresses: o.sourceAddresses } : {}),
  });
  return formatSshCertificate(cert);
}

export const role = (name: string, spec: Record<string, unknown>): Role => parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec });

interface RecordedSession {
  start: SshSessionStart;
  output: Buffer[];
  resizes: Array<[number, number]>;
  ended: boolean;
}

export interface NodeFixture {
  port: number;
  server: NodeSshServer;
  events: Array<{ name: SshAuditEventName; fields: SshAuditFields }>;
  roles: Map<string, Role>;
  locks: Lock[];
  recordings: RecordedSession[];
  stop(): Promise<void>;
}

/** A node SSH server on a loopback port with the `dev` role (logins from traits, env=dev) unless told otherwise. */
export async function startNode(keys: Keys, labels: Record<string, string> = { env: 'dev' }, extra: Partial<NodeSshServerOptions> = {}): Promise<NodeFixture> {
  const hostCert = await issueSshHostCert({
    ca: keys.hostCa.privateKeyPem, publicKey: keys.host.sshPublicKey, hostId: '5ae2c0de-0000-4000-8000-000000000001',
    clusterName: 'example.com', nodeName: 'node-1', systemRole: 'Node', additionalPrincipals: ['127.0.0.1', 'localhost'], clock: systemClock,
  });
  const roles = new Map<string, Role>([['dev', role('dev', { allow: { logins: ['{{internal.logins}}'], node_labels: { env: 'dev' } }, options: { forward_agent: true } })]]);
  const events: NodeFixture['events'] = [];
  const locks: Lock[] = [];
  const recordings: RecordedSession[] = [];
  const options: NodeSshServerOptions = {
    hostKey: keys.host.privateKeyPem,
    hostCert: formatSshCertificate(hostCert),
    clusterName: 'example.com', nodeName: 'node-1', hostUUID: '5ae2c0de-0000-4000-8000-000000000001',
    userCAs: () => [keys.userCa.sshPublicKey],
    access: newRoleAccess({ getRole: async (name) => roles.get(name) ?? Promise.reject(Object.assign(new Error(`role ${name} is not found`))), labels: () => labels, nodeName: 'node-1', roleCacheTtlMs: 0 }),
    locks: {
      assertNotLocked: (subject) => assertNoLockInForce(locks, subject, new Date()),
      watch(subject, onLocked) {
        const timer = setInterval(() => {
          const lock = findLockInForce(locks, subject, new Date());
          if (lock) {
            clearInterval(timer);
            onLocked(lock.spec.message ?? '');
          }
        }, 100);
        return () => clearInterval(timer);
      },
    },
    audit: { emit: (name, fields) => events.push({ name, fields }) },
    recorder: (start) => {
      const rec: RecordedSession = { start, output: [], resizes: [], ended: false };
      recordings.push(rec);
      const recorder: SshSessionRecorder = { output: (d) => rec.output.push(Buffer.from(d)), resize: (c, r) => rec.resizes.push([c, r]), end: async () => void (rec.ended = true) };
      return recorder;
    },
    ...extra,
  };
  const server = newNodeSshServer(options);
  const listener: Server = createServer((socket) => server.handle(socket, `${socket.remoteAddress}:${socket.remotePort}`));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as { port: number }).port,
    server, events, roles, locks, recordings,
    async stop() {
      await server.close();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

export interface SshFiles {
  dir: string;
  key: string;
  knownHosts: string;
  writeCert(cert: string): Promise<string>;
  remove(): Promise<void>;
}

let certCount = 0;

export async function sshFiles(keys: Keys): Promise<SshFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'tp-node-ssh-'));
  const key = join(dir, 'id');
  await writeFile(key, toOpenSshPrivateKey(keys.user.privateKeyPem), { mode: 0o600 });
  const knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, `@cert-authority [127.0.0.1]:*,127.0.0.1,localhost ${keys.hostCa.sshPublicKey}\n`);
  await chmod(dir, 0o755);
  return {
    dir, key, knownHosts,
    async writeCert(cert) {
      const path = join(dir, `id-${certCount++}-cert.pub`);
      await writeFile(path, cert + '\n');
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The OpenSSH options every run uses: our key and certificate, the host CA, no agent, no config. */
export function sshOptions(files: SshFiles, certPath: string, port: number): string[] {
  return [
    '-F', '/dev/null', '-i', files.key, '-o', `CertificateFile=${certPath}`, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${files.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'PreferredAuthentications=publickey', '-P_PORT', String(port),
  ];
}

export interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion. */
export function run(cmd: string, args: readonly string[], o: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(o.input ?? '');
  });
}

/** `ssh` with our options; `-P_PORT` becomes `-p` (ssh) or `-P` (scp, sftp). */
export function sshArgs(tool: 'ssh' | 'scp' | 'sftp', options: string[]): string[] {
  return options.map((a) => (a === '-P_PORT' ? (tool === 'ssh' ? '-p' : '-P') : a));
}
