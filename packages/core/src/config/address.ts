import { isIP } from 'node:net';
import { BadParameterError } from '../errors/index.js';

/**
 * Splits `host:port` (`[::1]:3025`, `0.0.0.0:3025`, `example.com`) into host and port, using
 * `defaultPort` when none is given. Throws {@link BadParameterError} for a malformed address.
 *
 * @example
 * ```ts
 * parseHostPort('[::]:3025', 3025); // { host: '::', port: 3025 }
 * parseHostPort('auth.example.com', 3025); // { host: 'auth.example.com', port: 3025 }
 * ```
 */
export function parseHostPort(addr: string, defaultPort: number): { host: string; port: number } {
  const text = addr.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  if (portText !== undefined && portText !== '' && !/^\d{1,5}$/.test(portText)) {
    throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: bad port`);
  }
  const port = portText === undefined || portText === '' ? defaultPort : Number(portText);
  if (port > 65535) throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: bad port`);
  if (host === '' || /[\s/]/.test(host)) throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: missing host`);
  return { host, port };
}
