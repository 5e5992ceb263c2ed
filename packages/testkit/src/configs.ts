/**
 * YAML lines of `teleport-ts start` configurations the end-to-end tests, the HA layout and the benches write: an auth
 * server with its proxy in one process, an agent (auth and proxy off) and the db service for the database `roach`.
 */

import path from 'node:path';

/**
 * One process with auth and proxy on 127.0.0.1 (data in `<dir>/data`): `authExtra` and `proxyExtra` are more
 * `auth_service:` and `proxy_service:` lines, indented two spaces.
 */
export function authProxyConfigLines(o: { dir: string; nodename: string; cluster: string; authPort: number; proxyPort: number; secondFactor?: 'otp' | 'off'; authExtra?: string[]; proxyExtra?: string[] }): string[] {
  return [
    'version: v3',
    'teleport:',
    `  data_dir: ${path.join(o.dir, 'data')}`,
    `  nodename: ${o.nodename}`,
    'auth_service:',
    '  enabled: yes',
    `  listen_addr: 127.0.0.1:${o.authPort}`,
    `  cluster_name: ${o.cluster}`,
    '  authentication:',
    `    second_factor: ${o.secondFactor ?? 'off'}`,
    ...(o.authExtra ?? []),
    'proxy_service:',
    '  enabled: yes',
    `  web_listen_addr: 127.0.0.1:${o.proxyPort}`,
    ...(o.proxyExtra ?? []),
  ];
}

/**
 * The YAML lines of an agent (auth and proxy off): `teleport:` with its nodename, data dir and `teleport` (more lines,
 * indented two spaces: proxy_server, auth_token, ca_pin...), then `services` (e.g. `roachService(...)`).
 */
export function agentConfigLines(o: { name: string; dataDir: string; teleport?: string[]; services: string[] }): string[] {
  return ['version: v3', 'teleport:', `  nodename: ${o.name}`, `  data_dir: ${o.dataDir}`, ...(o.teleport ?? []), 'auth_service:', '  enabled: no', 'proxy_service:', '  enabled: no', ...o.services];
}

/** `db_service` serving the database `roach` (protocol cockroachdb) at localhost:`port`, verified against `caFile`. */
export function roachService(o: { port: number; caFile: string; labels?: Record<string, string> }): string[] {
  const labels = Object.entries(o.labels ?? {});
  return [
    'db_service:',
    '  enabled: yes',
    '  databases:',
    '  - name: roach',
    '    protocol: cockroachdb',
    `    uri: localhost:${o.port}`,
    ...(labels.length > 0 ? ['    static_labels:', ...labels.map(([k, v]) => `      ${k}: ${v}`)] : []),
    '    tls:',
    `      ca_cert_file: ${o.caFile}`,
  ];
}

