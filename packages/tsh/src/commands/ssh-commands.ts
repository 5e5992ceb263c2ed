/**
 * `tsh ssh`, `tsh scp`, `tsh config` and `tsh proxy ssh`. The descriptors are light; the SSH code (`../ssh/*`) loads
 * only when one of them runs.
 */

import type { TshCommand } from './context.js';

const proxySshModule = () => import('../ssh/proxy-ssh.js');
const profileModule = () => import('../ssh/profile.js');
const configModule = () => import('../ssh/config.js');

/** Relays stdin and stdout to the node until the node's side ends; prints nothing of its own. */
export const proxySshCommand: TshCommand<{ cluster?: string }, void> = {
  name: 'proxy ssh',
  help: 'Start local TLS proxy for ssh connections when using Teleport in single-port mode.',
  args: [{ name: '<[user@]host[:port]>', description: 'Remote hostname and the login to use.' }],
  options: [{ flags: '--cluster <cluster>', description: 'Specify the Teleport cluster to connect.' }],
  handler: async ({ args, opts }, ctx) => {
    await (await proxySshModule()).proxySsh({ target: args[0]!, ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}) }, ctx.globals, ctx.env);
  },
  render: () => '',
};

/** Prints the OpenSSH configuration. */
export const configCommand: TshCommand<{ login?: string; port?: string }, string> = {
  name: 'config',
  help: 'Print OpenSSH configuration details.',
  options: [
    { flags: '-l, --login <login>', description: 'Remote host login.' },
    { flags: '-p, --port <port>', description: 'SSH port on a remote host.' },
  ],
  handler: async ({ opts }, ctx) => {
    const sshProfile = await (await profileModule()).openSshProfile(ctx.globals, ctx.env, ctx.now());
    const executablePath = process.argv[1] ?? 'tsh';
    return (await configModule()).renderSshConfig(sshProfile, { ...opts, executablePath });
  },
  render: (text) => text,
};
