/**
 * `tsh scp [-r] [-p] [-P port] src... dst`: copies files to or from one node over the SFTP subsystem (as OpenSSH 9's
 * scp does). A remote location is `[user@]host:path`; a relative remote path is under the login's home directory.
 * Like scp: a destination that is an existing directory receives the sources by their names; several sources need
 * one; directories need `-r`; `-p` keeps modification and access times and modes.
 */

import { mkdir, readdir, stat, utimes, chmod } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { SFTPWrapper, Stats } from '@teleport-ts/core/protocol/ssh';
import { BadParameterError, ConnectionProblemError } from '@teleport-ts/core/errors';
import { connectNode } from './connect.js';
import { openSshProfile, parseUserHostPort, type SshGlobals } from './profile.js';

export interface ScpOptions {
  recursive?: boolean;
  preserve?: boolean;
  port?: string;
  login?: string;
  cluster?: string;
}

interface Location {
  remote: boolean;
  user?: string;
  host?: string;
  path: string;
}

/** `[user@]host:path` is remote, unless the part before the colon has a slash (`./a:b`) or the text starts with `/`. */
function parseLocation(text: string): Location {
  const colon = text.indexOf(':');
  const head = colon < 0 ? '' : text.slice(0, colon);
  if (colon <= 0 || head.includes('/')) return { remote: false, path: text };
  const target = parseUserHostPort(head, 'remote location');
  return { remote: true, ...(target.user !== undefined ? { user: target.user } : {}), host: target.host, path: text.slice(colon + 1) || '.' };
}

/** Which way the copy goes, checked before connecting. */
function direction(sources: Location[], dest: Location): { remote: Location; upload: boolean } {
  const remoteSources = sources.filter((s) => s.remote);
  if (dest.remote && remoteSources.length === 0) return { remote: dest, upload: true };
  if (!dest.remote && remoteSources.length === sources.length) {
    const hosts = new Set(remoteSources.map((s) => `${s.user ?? ''}@${s.host}`));
    if (hosts.size !== 1) throw new BadParameterError('all remote sources must be on the same host with the same login');
    return { remote: remoteSources[0]!, upload: false };
  }
  throw new BadParameterError('copying between two remote locations or only between local ones is not supported', { hint: 'one side must be [user@]host:path' });
}

const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(new ConnectionProblemError(`sftp: ${err.message}`)) : resolve(value))));

async function remoteStat(sftp: SFTPWrapper, p: string): Promise<Stats | undefined> {
  try {
    return await call<Stats>((cb) => sftp.stat(p, cb));
  } catch {
    return undefined;
  }
}

interface Copy {
  sftp: SFTPWrapper;
  options: ScpOptions;
}

async function upload(c: Copy, local: string, remote: string): Promise<void> {
  const st = await stat(local);
  if (st.isDirectory()) {
    if (c.options.recursive !== true) throw new BadParameterError(`${local} is a directory, use -r to copy it`);
    if ((await remoteStat(c.sftp, remote))?.isDirectory() !== true) await call((cb) => c.sftp.mkdir(remote, { mode: st.mode & 0o7777 }, cb as never));
    for (const entry of await readdir(local)) await upload(c, path.join(local, entry), path.posix.join(remote, entry));
  } else {
    await call((cb) => c.sftp.fastPut(local, remote, { mode: st.mode & 0o7777 }, cb as never));
  }
  if (c.options.preserve === true) {
    await call((cb) => c.sftp.chmod(remote, st.mode & 0o7777, cb as never));
    await call((cb) => c.sftp.utimes(remote, st.atime, st.mtime, cb as never));
  }
}

async function download(c: Copy, remote: string, local: string): Promise<void> {
  const st = await call<Stats>((cb) => c.sftp.stat(remote, cb));
  if (st.isDirectory()) {
    if (c.options.recursive !== true) throw new BadParameterError(`${remote} is a directory, use -r to copy it`);
    await mkdir(local, { recursive: true, mode: st.mode & 0o7777 });
    const entries = await call<{ filename: string }[]>((cb) => c.sftp.readdir(remote, cb as never));
    for (const { filename } of entries) {
      if (filename !== '.' && filename !== '..') await download(c, path.posix.join(remote, filename), path.join(local, filename));
    }
  } else {
    await call((cb) => c.sftp.fastGet(remote, local, {}, cb as never));
  }
  if (c.options.preserve === true) {
    await chmod(local, st.mode & 0o7777);
    await utimes(local, st.atime, st.mtime);
  }
}

async function localIsDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Copies every source; returns the exit status (0). */
export async function tshScp(args: readonly string[], options: ScpOptions, globals: SshGlobals, env: NodeJS.ProcessEnv): Promise<number> {
  if (args.length < 2) throw new BadParameterError('expected at least one source and a destination');
  const sources = args.slice(0, -1).map(parseLocation);
  const dest = parseLocation(args[args.length - 1]!);
  const { remote, upload: isUpload } = direction(sources, dest);
  const port = options.port === undefined ? 0 : parseUserHostPort(`x:${options.port}`, '--port').port!;
  const sshProfile = await openSshProfile(globals, env);
  const login = options.login ?? remote.user ?? os.userInfo().username;
  const cluster = options.cluster ?? sshProfile.profile.site_name;
  const conn = await connectNode(sshProfile, { host: remote.host!, port, cluster, login });
  try {
    const c: Copy = { sftp: await call<SFTPWrapper>((cb) => conn.client.sftp(cb)), options };
    const intoDir = isUpload ? (await remoteStat(c.sftp, dest.path))?.isDirectory() === true : await localIsDir(dest.path);
    if (sources.length > 1 && !intoDir) throw new BadParameterError(`${dest.path} is not a directory`);
    for (const source of sources) {
      const target = intoDir ? (isUpload ? path.posix.join(dest.path, path.basename(source.path)) : path.join(dest.path, path.posix.basename(source.path))) : dest.path;
      if (isUpload) await upload(c, source.path, target);
      else await download(c, source.path, target);
    }
    c.sftp.end();
    return 0;
  } finally {
    conn.close();
  }
}
