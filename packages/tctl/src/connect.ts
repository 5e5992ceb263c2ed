/**
 * Opens the auth client for the global flags, and turns the two failures every admin meets first (no identity
 * here, auth server not reachable) into one line that says what to do.
 */

import { readFile } from 'node:fs/promises';
import { loadIdentity, newAuthClient, type Identity } from '@teleport-ts/core/api';
import { derToPem, pemBlocksToDer } from '@teleport-ts/core/ca';
import { BadParameterError, ConnectionProblemError, isConnectionProblem, isNotFound, NotFoundError } from '@teleport-ts/core/errors';
import type { TctlApi } from './api.js';
import { resolveConnection, type ConnectionTarget, type GlobalOptions } from './connection.js';

/** A connected client and the address it talks to. */
export type ConnectedApi = TctlApi & {
  /** `host:port` tctl connected to. */
  readonly addr: string;
  /** `host:port` agents should join through (the auth server's public address, or `addr`). */
  readonly joinAddr: string;
};

const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----\n?/;

/**
 * Reads an identity file as `tctl auth sign --format=file` writes it: the private key, the SSH certificate,
 * the TLS certificate, then the trusted host CA (known_hosts lines and PEM certificates).
 */
function parseIdentityFile(text: string, source: string): Identity {
  const key = PRIVATE_KEY_BLOCK.exec(text)?.[0];
  const certs = pemBlocksToDer(text, 'CERTIFICATE').map((der) => derToPem(der, 'CERTIFICATE'));
  if (!key || certs.length < 2) {
    throw new BadParameterError(`${source} is not an identity file: it needs a private key, a certificate and the cluster CA`);
  }
  const sshCert = text.split('\n').find((l) => /^[a-z0-9-]+-cert-v01@openssh\.com /.test(l));
  return { key, cert: certs[0]!, caCerts: certs.slice(1), ...(sshCert ? { sshCert } : {}) };
}

async function readIdentity(target: ConnectionTarget): Promise<Identity> {
  if (target.identity.kind === 'file') {
    let text: string;
    try {
      text = await readFile(target.identity.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`identity file ${target.identity.path} does not exist`);
      throw err;
    }
    return parseIdentityFile(text, target.identity.path);
  }
  try {
    return await loadIdentity(target.identity.path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    const viaConfig = target.configPath ? ` (data_dir from ${target.configPath})` : '';
    throw new NotFoundError(
      `no admin identity found in ${target.identity.path}${viaConfig}: run tctl on the auth server after "teleport-ts start" has run once, ` +
        'pass -c with the auth server\'s teleport.yaml, or use --identity <file> with --auth-server <host:port>',
      { code: 'ERR_TP_NO_IDENTITY' },
    );
  }
}

function unreachable(target: ConnectionTarget, err: Error): ConnectionProblemError {
  const reason = /connection refused/i.test(err.message)
    ? 'connection refused'
    : err.message.replace(/^failed to (?:connect to|reach) \S+: /, '');
  return new ConnectionProblemError(
    `cannot reach the auth server at ${target.addr} (${reason}): is "teleport-ts start" running there? ` +
      'Point tctl at it with -c <teleport.yaml> or --auth-server <host:port>',
    { code: 'ERR_TP_AUTH_UNREACHABLE', cause: err },
  );
}

/** Every method's connection failures become the one-line {@link unreachable} error. */
function withFriendlyErrors(client: TctlApi, target: ConnectionTarget): TctlApi {
  return new Proxy(client, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
        } catch (err) {
          if (isConnectionProblem(err) && /failed to (?:connect to|reach)/.test((err as Error).message)) throw unreachable(target, err as Error);
          throw err;
        }
      };
    },
  });
}

function withPort(addr: string): string {
  return /:\d+$/.test(addr) && !/^[^[]*:[^:]*:/.test(addr) ? addr : /^\[.*\]$|^[^:]+$/.test(addr) ? `${addr}:3025` : addr;
}

/** Resolves the target, loads the identity and opens the client. */
export async function connectAuth(options: GlobalOptions): Promise<ConnectedApi> {
  const target = await resolveConnection(options);
  const identity = await readIdentity(target);
  const client = withFriendlyErrors(newAuthClient({ addr: target.addr, identity }), target);
  const joinAddr = target.publicAddr ? withPort(target.publicAddr) : target.addr;
  return Object.assign(Object.create(client) as TctlApi, { addr: target.addr, joinAddr });
}
