/**
 * An SSH server over byte streams handed to it (from a listener or a reverse tunnel), presenting a host certificate,
 * and the check of a user-certificate `publickey` request. What a connection may do is the caller's business.
 */

import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Connection, PublicKeyAuthContext } from 'ssh2';
import type { SshCertificate } from '../../ca/sshca/certificate.js';
import { verifySshCert, type TrustedSshCaKey } from '../../ca/sshca/verify.js';
import { verifySshSignature } from '../../ca/sshca/signature.js';
import type { Clock } from '../../clock/index.js';
import { AccessDeniedError } from '../../errors/index.js';
import { parseSsh2PrivateKey, SSH_CERT_KEY_TYPES, sshCertKey } from './keys.js';

const DEFAULT_LOGIN_GRACE_MS = 60_000;

/** Options for {@link newSshServer}. */
export interface SshServerOptions {
  /** The host private key: PKCS#8/SEC1 PEM or OpenSSH. */
  hostKey: string;
  /** The host certificate of that key (a `-cert.pub` line); when given, it is the only host key offered. */
  hostCert?: string;
  /** Software version in the identification line; default `SSH-2.0-Teleport`. */
  ident?: string;
  /**
   * How long a stream may take to log in (sshd's `LoginGraceTime`): past it, the stream is destroyed, whatever
   * stage it reached (a client that sends nothing never becomes a connection). Default 60 s.
   */
  loginGraceMs?: number;
  /** Called for every client connection, before authentication (listen to `authentication`). */
  onConnection(connection: Connection, info: { remoteAddr: string }): void;
}

/** A server that speaks SSH on the streams it is handed. */
export interface SshServer {
  /** Serves one SSH connection on `stream`; `remoteAddr` is the client's address (for `source-address`, audit). */
  handle(stream: Duplex, remoteAddr: string): void;
}

/**
 * @example
 * ```ts
 * const server = newSshServer({ hostKey, hostCert, onConnection: (conn, { remoteAddr }) => serve(conn, remoteAddr) });
 * net.createServer((socket) => server.handle(socket, socket.remoteAddress ?? '')).listen(3022);
 * ```
 */
export function newSshServer(options: SshServerOptions): SshServer {
  const hostKeys = options.hostCert === undefined ? [parseSsh2PrivateKey(options.hostKey)] : [sshCertKey(options.hostKey, options.hostCert)];
  // As `{ key }`: ssh2 takes an already parsed key only in that form.
  const server = new ssh2.Server({ hostKeys: hostKeys.map((key) => ({ key })) as never, ident: options.ident ?? 'Teleport' });
  const grace = options.loginGraceMs ?? DEFAULT_LOGIN_GRACE_MS;
  server.on('connection', (connection: Connection & { _sock?: Duplex }, info: { ip: string }) => {
    // ssh2 keeps the stream it was handed as `_sock` (no public accessor): its login timer stops at `ready`.
    const timer = connection._sock === undefined ? undefined : timers.get(connection._sock);
    if (timer !== undefined) connection.once('ready', () => clearTimeout(timer));
    options.onConnection(connection, { remoteAddr: info.ip });
  });
  const timers = new WeakMap<Duplex, NodeJS.Timeout>();
  return {
    handle(stream, remoteAddr) {
      // ssh2 reports the socket's `remoteAddress`; a tunnel stream has none, so it is set to the address given.
      Object.defineProperty(stream, 'remoteAddress', { value: remoteAddr, configurable: true });
      stream.on('error', () => undefined);
      const timer = setTimeout(() => stream.destroy(), grace);
      timer.unref();
      timers.set(stream, timer);
      stream.once('close', () => clearTimeout(timer));
      server.injectSocket(stream as never);
    },
  };
}

/** Options for {@link verifyCertAuth}. */
export interface CertAuthOptions {
  userCaKeys: readonly TrustedSshCaKey[];
  clock: Clock;
  /** The client's address, for the certificate's `source-address` critical option. */
  clientAddress: string;
}

/**
 * Checks a `publickey` request made with an OpenSSH user certificate: a certificate type, signed by a user CA key,
 * valid now, of type user, listing the requested login, with only known critical options (`source-address`
 * honoured), and, when the request is signed, a good signature of the session by the certificate's key. A bare key
 * is refused.
 *
 * @example
 * ```ts
 * connection.on('authentication', (ctx) => {
 *   if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
 *   try { verifyCertAuth(ctx, { userCaKeys, clock, clientAddress }); ctx.accept(); } catch { ctx.reject(); }
 * });
 * ```
 */
export function verifyCertAuth(ctx: PublicKeyAuthContext, options: CertAuthOptions): SshCertificate {
  if (!(SSH_CERT_KEY_TYPES as readonly string[]).includes(ctx.key.algo)) {
    throw new AccessDeniedError(`ssh: only certificates are accepted, got a ${JSON.stringify(ctx.key.algo)} key`, {
      code: 'ERR_TP_SSH_AUTH_FAILED',
      hint: 'log in with `tsh login` and use its certificate',
    });
  }
  const { certificate } = verifySshCert(ctx.key.data, {
    trustedCaKeys: options.userCaKeys,
    certType: 'user',
    principal: ctx.username,
    clock: options.clock,
    clientAddress: options.clientAddress,
  });
  if (certificate.type !== ctx.key.algo) {
    throw new AccessDeniedError('ssh: the key algorithm does not match the certificate', { code: 'ERR_TP_SSH_AUTH_FAILED' });
  }
  if (ctx.signature !== undefined && ctx.blob !== undefined) verifySshSignature(certificate.publicKey, ctx.signature, ctx.blob);
  return certificate;
}
