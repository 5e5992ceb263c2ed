/**
 * `tsh proxy ssh [--cluster] [user@]host[:port]`: OpenSSH's `ProxyCommand`. It asks the proxy for a stream to the node
 * (the routing of `route.ts`) and then relays stdin and stdout; OpenSSH speaks SSH over them end to end with the
 * node, verifying its host certificate against the `known_hosts` that `tsh login` wrote.
 */

import type { Duplex, Readable, Writable } from 'node:stream';
import { dialNode } from './route.js';
import { cleanTargetHost, openSshProfile, parseUserHostPort, type SshGlobals } from './profile.js';

export interface ProxySshOptions {
  target: string;
  cluster?: string;
}

/** Copies both ways until the node's side ends; stdin ending half-closes the stream. */
export function relay(stream: Duplex, input: Readable, output: Writable): Promise<void> {
  return new Promise((resolve) => {
    input.pipe(stream);
    stream.pipe(output);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      input.unpipe(stream);
      stream.destroy();
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
}

/** Runs the relay for the target; throws the proxy's refusal as a TeleportError (`ERROR: <text>`, exit 1). */
export async function proxySsh(options: ProxySshOptions, globals: SshGlobals, env: NodeJS.ProcessEnv): Promise<void> {
  const target = parseUserHostPort(options.target);
  const sshProfile = await openSshProfile(globals, env);
  const cluster = options.cluster ?? sshProfile.profile.site_name;
  const { socket } = await dialNode({
    proxy: sshProfile.proxy,
    tls: { key: sshProfile.creds.key, cert: sshProfile.creds.cert, ca: sshProfile.creds.caCerts },
    insecure: sshProfile.insecure,
    target: { host: cleanTargetHost(target.host, sshProfile.proxy.host, cluster), port: target.port ?? 0, cluster },
  });
  await relay(socket, process.stdin, process.stdout);
  // stdin may still be open (OpenSSH keeps it until it exits): it must not keep tsh alive.
  process.stdin.destroy();
}
