/**
 * `tsh login`: asks the proxy how the cluster authenticates, prompts for the password (and the OTP code), makes
 * the keys locally (Ed25519 for SSH, ECDSA P-256 for TLS: Teleport's balanced-v1), sends the public halves with
 * the credentials, and stores what comes back as the current profile.
 */

import os from 'node:os';
import { WebPingResponse, WebSshCertsResponse } from '@teleport-ts/core/api';
import { BadParameterError, NotImplementedError } from '@teleport-ts/core/errors';
import { generateLoginKeys } from '../keys.js';
import { profileStatus, type ProfileStatus } from '../profile/status.js';
import { checkNewName, currentProfileName, readProfile, saveLogin, teleportHome } from '@teleport-ts/core/profile';
import { newPrompter, type Prompter } from '../prompt.js';
import { renderStatusText } from '../render/status.js';
import type { TshCommand } from './context.js';
import { parseProxyAddr, proxyRequest } from '../webclient.js';

export interface LoginOptions {
  proxy?: string;
  user?: string;
  /** Minutes, as Teleport's `--ttl`. */
  ttl?: string;
  insecure?: boolean;
}

interface LoginDeps {
  env: NodeJS.ProcessEnv;
  prompter: Prompter;
}

/** Second factors tsh can prompt for. */
const OTP_FACTORS = ['otp', 'on', 'optional'];

/**
 * `MAX_TTL_MS` of core/types (8760h), which this descriptor module does not import: tsh status loads it, and must not
 * load the schemas. The proxy caps a login further, at 30h, and the user's roles may cap it more.
 */
const MAX_TTL_MINUTES = 8760 * 60;

function ttlNanos(ttl: string | undefined): number | undefined {
  if (ttl === undefined) return undefined;
  const minutes = Number(ttl);
  if (!Number.isInteger(minutes) || minutes <= 0) throw new BadParameterError(`--ttl must be a whole number of minutes, got ${JSON.stringify(ttl.slice(0, 64))}`);
  if (minutes > MAX_TTL_MINUTES) throw new BadParameterError(`--ttl must not be longer than ${MAX_TTL_MINUTES} minutes (8760h)`);
  return minutes * 60 * 1e9;
}

/**
 * Logs in and returns the new profile's status.
 *
 * @example
 * ```ts
 * const status = await login({ proxy: 'proxy.example.com', user: 'alice' }, { env: process.env, prompter });
 * ```
 */
export async function login(options: LoginOptions, deps: LoginDeps): Promise<ProfileStatus> {
  const { env, prompter } = deps;
  const home = teleportHome(env);
  const current = await currentProfileName(home);
  const currentProfile = current === undefined ? undefined : await readProfile(home, current);
  const proxyText = options.proxy ?? (env['TELEPORT_PROXY'] || undefined) ?? currentProfile?.web_proxy_addr;
  if (proxyText === undefined) throw new BadParameterError('No proxy address specified, missed --proxy flag?');
  const target = parseProxyAddr(proxyText);
  const user =
    options.user ??
    (env['TELEPORT_USER'] || undefined) ??
    (currentProfile && currentProfile.web_proxy_addr === target.addr ? currentProfile.user : undefined) ??
    os.userInfo().username;
  // Before any prompt: a name the cluster cannot have would cost a password attempt (and a one-time code) for nothing.
  checkNewName('user', user);
  const ttl = ttlNanos(options.ttl);
  const insecure = options.insecure === true;

  const ping = await proxyRequest(target, 'GET', '/webapi/ping', undefined, { insecure }, WebPingResponse);
  const authType = ping.auth?.type ?? 'local';
  if (authType !== 'local') throw new NotImplementedError(`the cluster uses ${authType} authentication, which this tsh does not support yet`);
  const secondFactor = ping.auth?.second_factor ?? 'off';
  if (secondFactor !== 'off' && !OTP_FACTORS.includes(secondFactor)) {
    throw new NotImplementedError(`the cluster requires ${secondFactor} as the second factor, which this tsh does not support yet`);
  }

  const password = await prompter.secret(`Enter password for Teleport user ${user}:`);
  const otp = OTP_FACTORS.includes(secondFactor) ? (await prompter.secret('Enter an OTP code from a device:')).replace(/\s+/g, '') : undefined;
  prompter.close();

  const keys = await generateLoginKeys(user);

  const certs = await proxyRequest(
    target,
    'POST',
    '/v1/webapi/ssh/certs',
    {
      user,
      password,
      ...(otp ? { otp_token: otp } : {}),
      pub_key: keys.sshPublicKey,
      tls_pub_key: keys.tlsPublicKey,
      ...(ttl !== undefined ? { ttl } : {}),
    },
    { insecure },
    WebSshCertsResponse,
  );
  const cluster = ping.cluster_name ?? certs.host_signers?.[0]?.domain_name ?? '';
  const signers = certs.host_signers?.find((s) => s.domain_name === cluster) ?? certs.host_signers?.[0];
  const profile = {
    web_proxy_addr: target.addr,
    ssh_proxy_addr: target.addr,
    postgres_proxy_addr: target.addr,
    user: certs.username ?? user,
    site_name: cluster,
    tls_routing_enabled: ping.proxy?.tls_routing_enabled !== false,
  };
  await saveLogin(home, profile, {
    sshPrivateKey: keys.sshPrivateKey,
    sshPublicKey: keys.sshPublicKey,
    tlsPrivateKey: keys.tlsPrivateKey,
    tlsCert: certs.tls_cert,
    sshCert: certs.cert,
    tlsCaCerts: signers?.tls_certs ?? [],
    sshHostCaKeys: signers?.checking_keys ?? [],
  });
  return profileStatus(profile, certs.cert, true);
}

/** `tsh login [--proxy] [--user] [--ttl] [--insecure] [--request-id]`: the global flags are its options. */
export const loginCommand: TshCommand<{ requestId?: string; requestReason?: string }, ProfileStatus> = {
  name: 'login',
  help: 'Log in to a cluster and retrieve the session certificate.',
  options: [
    { flags: '--request-id <id>', description: 'Login with the roles requested in the given request.' },
    { flags: '--request-reason <reason>', description: 'Reason for requesting additional roles (when a role sets request_access: always).' },
  ],
  handler: async ({ opts }, ctx) => {
    const status = await login(ctx.globals, { env: ctx.env, prompter: newPrompter() });
    const { loginRequests } = await import('./request-commands.js');
    return (await loginRequests(ctx, opts)) ?? status;
  },
  render: (status, _input, ctx) => renderStatusText(status, ctx.now()),
};
