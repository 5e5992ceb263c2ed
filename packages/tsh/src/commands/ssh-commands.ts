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

const sshModule = () => import('../ssh/ssh.js');
const scpModule = () => import('../ssh/scp.js');

/** Ends tsh with `code` once the output is written: stdin (a terminal or OpenSSH's pipe) must not keep it alive. */
async function exitWith(code: number): Promise<void> {
  process.exitCode = code;
  process.stdin.destroy();
}

interface SshFlags {
  login?: string;
  port?: string;
  tty?: boolean;
  forward?: string[];
  remoteForward?: string[];
  remoteExec?: boolean;
  forwardAgent?: boolean;
  cluster?: string;
}

/**
 * Runs a command or a shell on a node; tsh's exit status is the command's. Flags after the host belong to the
 * command (`tsh ssh host ls -l`), as with Teleport's and OpenSSH's ssh: see `stopFlagsAfterHost`.
 */
export const sshCommand: TshCommand<SshFlags, number> = {
  name: 'ssh',
  help: 'Run shell or execute a command on a remote SSH node.',
  args: [
    { name: '<[user@]host>', description: 'Remote hostname and the login to use, or a label selector (user@env=dev) to run the command on every matching node.' },
    { name: '[command...]', description: 'Command to execute on a remote host.' },
  ],
  options: [
    { flags: '-l, --login <login>', description: 'Remote host login.' },
    { flags: '-p, --port <port>', description: 'SSH port on a remote host.' },
    { flags: '-t, --tty', description: 'Allocate TTY.' },
    { flags: '-T, --no-tty', description: 'Disable TTY allocation.' },
    { flags: '-L, --forward <spec>', description: 'Forward localhost connections to remote server: [bind_addr:]port:host:hostport.', repeatable: true },
    { flags: '-R, --remote-forward <spec>', description: 'Forward remote connections to localhost: [bind_addr:]port:host:hostport.', repeatable: true },
    { flags: '-N, --no-remote-exec', description: "Don't execute remote command, useful for port forwarding." },
    { flags: '-A, --forward-agent', description: 'Forward agent to target node.' },
    { flags: '--cluster <cluster>', description: 'Specify the Teleport cluster to connect.' },
  ],
  handler: async ({ args, opts }, ctx) => {
    const command = (args[1] as unknown as string[] | undefined) ?? [];
    const { remoteExec, ...rest } = opts;
    const options = { ...rest, ...(remoteExec === false ? { noRemoteExec: true } : {}) };
    return (await sshModule()).tshSsh(args[0]!, command, options, ctx.globals, { env: ctx.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  },
  render: () => '',
  finish: exitWith,
};

/** Copies files to or from a node over SFTP. */
export const scpCommand: TshCommand<{ recursive?: boolean; preserve?: boolean; port?: string; login?: string; cluster?: string }, number> = {
  name: 'scp',
  help: 'Transfer files to a remote SSH node.',
  args: [{ name: '<paths...>', description: 'Sources and destination to copy, either side [user@]host:path.' }],
  options: [
    { flags: '-r, --recursive', description: 'Recursive copy of subdirectories.' },
    { flags: '-p, --preserve', description: 'Preserves access and modification times from the original file.' },
    { flags: '-P, --port <port>', description: 'Port to connect to on the remote host.' },
    { flags: '-l, --login <login>', description: 'Remote host login.' },
    { flags: '--cluster <cluster>', description: 'Specify the Teleport cluster to connect.' },
  ],
  handler: async ({ args, opts }, ctx) => (await scpModule()).tshScp((args[0] as unknown as string[] | undefined) ?? [], opts, ctx.globals, ctx.env),
  render: () => '',
  finish: exitWith,
};
