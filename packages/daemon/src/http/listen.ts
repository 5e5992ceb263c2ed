/**
 * Binding a listener, and checking before start-up writes anything that every port the process needs is free:
 * a port taken is one `ERROR: cannot listen on <addr>: address already in use; ...` line, not a raw EADDRINUSE after
 * the CAs and the data dir were created.
 */

import net from 'node:net';
import { ConnectionProblemError } from '@teleport-ts/core/errors';

/** What to tell the operator for the usual bind failures. */
const BIND_HINTS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use; stop the process using it or change',
  EACCES: 'permission denied (ports below 1024 need privileges); choose a higher port in',
  EADDRNOTAVAIL: 'this host has no such address; change',
  ENOTFOUND: 'unknown host name; change',
  EAI_AGAIN: 'cannot resolve the host name; change',
};

function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A bind failure as one line naming the address and the setting to change. */
function bindError(err: NodeJS.ErrnoException, host: string, port: number, setting: string): Error {
  const code = err.code ?? '';
  const hint = BIND_HINTS[code];
  const what = hint === undefined ? `${code || err.message}; check ${setting}` : `${hint} ${setting}`;
  return new ConnectionProblemError(`cannot listen on ${formatAddr(host, port)}: ${what}`);
}

/**
 * Listens on `host:port`; a failure is one line naming `setting` (e.g. `auth_service.listen_addr`).
 *
 * @example
 * ```ts
 * await listenOrExplain(server, { host: '127.0.0.1', port: 3025 }, 'auth_service.listen_addr');
 * ```
 */
export function listenOrExplain(server: net.Server, listen: { host: string; port: number }, setting: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(bindError(err, listen.host, listen.port, setting));
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Binds and releases each address (port 0 needs no check): a port taken fails here, before anything is written. */
export async function checkPortsFree(addrs: readonly { host: string; port: number; setting: string }[]): Promise<void> {
  for (const a of addrs) {
    if (a.port === 0) continue;
    const probe = net.createServer();
    await listenOrExplain(probe, a, a.setting);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}
