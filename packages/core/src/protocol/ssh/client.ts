/**
 * An SSH client over any byte stream (a TCP socket, the proxy's TLS stream) that logs in with an OpenSSH user
 * certificate and trusts a server only through its host certificate, checked against the cluster's host CA keys:
 * a bare host key is never accepted (no trust on first use).
 */

import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client } from 'ssh2';
import { verifySshCert } from '../../ca/sshca/verify.js';
import type { SshCertificate } from '../../ca/sshca/certificate.js';
import { systemClock, type Clock } from '../../clock/index.js';
import { AccessDeniedError, ConnectionProblemError, isTeleportError } from '../../errors/index.js';
import { SSH_CERT_KEY_TYPES, sshCertKey } from './keys.js';

/** Options for {@link connectSsh}. */
export interface SshClientOptions {
  /** The stream to speak SSH over; it is destroyed when the connection fails or ends. */
  sock: Duplex;
  /** The login (remote user) to ask for. */
  login: string;
  /** The user's private key: PKCS#8/SEC1 PEM or OpenSSH. */
  privateKey: string;
  /** The user's OpenSSH certificate (a `-cert.pub` line). */
  certificate: string;
  /** Host CA public keys (`authorized_keys` lines); the server's host certificate must be signed by one. */
  hostCaKeys: readonly string[];
  /**
   * A principal the host certificate must list (the node's UUID, name or address as dialled); `null` accepts any
   * host certificate from the host CA.
   */
  hostPrincipal: string | null;
  clock?: Clock;
  /**
   * An agent socket path to forward when the server allows it (`ssh -A`); ask for it per session with ssh2's
   * `{ agentForward: true }` exec/shell option (missing from @types/ssh2).
   */
  forwardAgent?: string;
  /** Default 20 s. */
  readyTimeoutMs?: number;
  /** Milliseconds between keepalives; 0 (default) sends none. */
  keepaliveIntervalMs?: number;
}

/** A logged-in connection. */
export interface SshClientConnection {
  client: Client;
  /** The verified host certificate of the server. */
  hostCertificate: SshCertificate;
  /** Banners the server sent before authentication. */
  banners: readonly string[];
}

const DEFAULT_READY_TIMEOUT_MS = 20_000;

/**
 * Connects and logs in; rejects with {@link AccessDeniedError} when the host certificate is not trusted
 * (`ERR_TP_SSH_HOST_KEY` or the certificate check's code) or the server refuses the user (`ERR_TP_SSH_AUTH_FAILED`,
 * with the server's banner as the reason), and {@link ConnectionProblemError} when the handshake fails.
 *
 * @example
 * ```ts
 * const { client } = await connectSsh({ sock: net.connect(3022, 'node'), login: 'root', privateKey, certificate,
 *   hostCaKeys: [hostCaLine], hostPrincipal: 'node' });
 * client.exec('uname -a', (err, channel) => channel.pipe(process.stdout));
 * ```
 */
export function connectSsh(options: SshClientOptions): Promise<SshClientConnection> {
  const clock = options.clock ?? systemClock;
  const client = new ssh2.Client();
  const banners: string[] = [];
  let hostCertificate: SshCertificate | undefined;
  let hostError: unknown;
  const certKey = sshCertKey(options.privateKey, options.certificate);
  let attempted = false;
  const verifyHost = (key: Buffer): boolean => {
    try {
      hostCertificate = verifySshCert(key, { trustedCaKeys: options.hostCaKeys, certType: 'host', principal: options.hostPrincipal, clock }).certificate;
      return true;
    } catch (err) {
      hostError = err;
      return false;
    }
  };
  return new Promise((resolve, reject) => {
    client.on('banner', (message: string) => banners.push(message.trim()));
    client.once('ready', () => {
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      resolve({ client, hostCertificate: hostCertificate!, banners });
    });
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      options.sock.destroy();
      reject(connectError(err, { hostError, banners, login: options.login }));
    });
    client.connect({
      sock: options.sock as never,
      username: options.login,
      // One attempt, with the certificate (ssh2 takes a parsed key only from an auth handler).
      authHandler: (_methods, _partial, next) => {
        if (attempted) return next(false as never);
        attempted = true;
        next({ type: 'publickey', username: options.login, key: certKey } as never);
      },
      algorithms: { serverHostKey: [...SSH_CERT_KEY_TYPES] as never },
      hostVerifier: verifyHost,
      readyTimeout: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      keepaliveInterval: options.keepaliveIntervalMs ?? 0,
      ...(options.forwardAgent === undefined ? {} : { agent: options.forwardAgent, agentForward: true }),
    });
  });
}

function connectError(err: Error & { level?: string }, ctx: { hostError: unknown; banners: readonly string[]; login: string }): Error {
  if (ctx.hostError !== undefined) {
    if (isTeleportError(ctx.hostError)) return ctx.hostError;
    return new AccessDeniedError(`ssh: the host certificate is not valid: ${(ctx.hostError as Error).message}`, { code: 'ERR_TP_SSH_HOST_KEY' });
  }
  if (err.level === 'client-authentication') {
    const reason = ctx.banners.length > 0 ? `: ${ctx.banners.join('; ')}` : '';
    return new AccessDeniedError(`ssh: unable to authenticate as ${JSON.stringify(ctx.login)}${reason}`, { code: 'ERR_TP_SSH_AUTH_FAILED' });
  }
  if (/no matching host key format/.test(err.message)) {
    return new AccessDeniedError('ssh: the host did not present a host certificate', {
      code: 'ERR_TP_SSH_HOST_KEY',
      hint: 'the server needs a host certificate from the cluster host CA',
    });
  }
  return new ConnectionProblemError(`ssh: ${err.message}`, { code: 'ERR_TP_SSH_HANDSHAKE' });
}
