/**
 * `tsh config`: an OpenSSH client configuration for the profile's cluster, in the shape of Teleport's: one block for
 * every host of the cluster (`*.<cluster>`) and the proxy with the profile's key, certificate and `known_hosts`, and
 * one for the cluster's nodes that goes through `tsh proxy ssh`.
 */

import path from 'node:path';
import { BadParameterError } from '@teleport-ts/core/errors';
import type { SshProfile } from './profile.js';

/**
 * Host key algorithms of certificates only: OpenSSH then never falls back to a bare host key, so a node must present
 * a host certificate, which `known_hosts` trusts only when the cluster's host CA signed it.
 */
const CERT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
].join(',');

/** The port of Teleport's SSH service, which OpenSSH is told to use unless `--port` says otherwise. */
const DEFAULT_NODE_PORT = 3022;

export interface SshConfigOptions {
  /** `-l, --login`: the remote login, written as `User`. */
  login?: string;
  /** `-p, --port`: the node port. */
  port?: string;
  /** The tsh to run as the `ProxyCommand` (this one). */
  executablePath: string;
}

/** A value OpenSSH reads in double quotes: no quote, newline or `%` (which it would expand) may get in. */
function quoted(what: string, value: string): string {
  if (/["\r\n%]/.test(value)) throw new BadParameterError(`${what} ${JSON.stringify(value)} cannot be written into an OpenSSH config`);
  return `"${value}"`;
}

function nodePort(port: string | undefined): number {
  if (port === undefined) return DEFAULT_NODE_PORT;
  const n = Number(port);
  if (!(Number.isInteger(n) && n > 0 && n < 65536)) throw new BadParameterError(`invalid --port ${JSON.stringify(port)}`);
  return n;
}

/** The config text for `sshProfile`. */
export function renderSshConfig(sshProfile: SshProfile, options: SshConfigOptions): string {
  const { profile, paths, proxy } = sshProfile;
  const cluster = profile.site_name;
  const proxyHost = proxy.host;
  const port = nodePort(options.port);
  const user = options.login === undefined ? [] : [`    User ${quoted('login', options.login)}`];
  const insecure = sshProfile.insecure ? ' --insecure' : '';
  return [
    `# Begin generated Teleport configuration for ${proxyHost} by tsh`,
    '',
    `# Common flags for all ${cluster} hosts`,
    `Host *.${cluster} ${proxyHost}`,
    `    UserKnownHostsFile ${quoted('known_hosts path', sshProfile.knownHostsPath)}`,
    `    IdentityFile ${quoted('key path', paths.sshKey)}`,
    `    CertificateFile ${quoted('certificate path', paths.sshCert)}`,
    `    HostKeyAlgorithms ${CERT_HOST_KEY_ALGORITHMS}`,
    // Not in Teleport's block: without it OpenSSH offers to trust an unknown node's bare key on first use.
    '    StrictHostKeyChecking yes',
    ...user,
    '',
    `# Flags for all ${cluster} hosts except the proxy`,
    `Host *.${cluster} !${proxyHost}`,
    `    Port ${port}`,
    `    ProxyCommand ${quoted('tsh path', path.resolve(options.executablePath))} proxy ssh --cluster=${cluster} --proxy=${proxy.addr}${insecure} %r@%h:%p`,
    ...user,
    '',
    '# End generated Teleport configuration',
    '',
  ].join('\n');
}
