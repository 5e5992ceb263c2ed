/**
 * A database for a cluster's db agent to serve, and psql sessions through tsh's local proxy: shared by the
 * end-to-end tests (db access, caches, rotation, HA) and the HA layout.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { startPostgres, type PostgresServer } from './postgres.js';
import { repoBin, runProgram, waitUntil } from './processes.js';

/**
 * A real PostgreSQL that wants client certificates (`hostssl ... cert`), serving with the certificates that the built
 * `tctl -c <tctlConfig> auth sign --format=cockroachdb --host=localhost` writes into `certs` (the db agent trusts
 * `certs/ca.crt`). Each of `roles` gets a login role and a database of its name (libpq's default database).
 */
export async function startCertDatabase(tctlConfig: string, certs: string, roles: readonly string[] = ['alice']): Promise<PostgresServer> {
  const signed = await runProgram(repoBin('tctl'), ['-c', tctlConfig, 'auth', 'sign', '--format=cockroachdb', '--host=localhost', `--out=${certs}`]);
  if (signed.code !== 0) throw new Error(`tctl auth sign failed: ${signed.stderr}`);
  const target = await startPostgres({
    tls: { certFile: path.join(certs, 'node.crt'), keyFile: path.join(certs, 'node.key'), caFile: path.join(certs, 'ca-client.crt') },
    hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert'],
  });
  for (const role of roles) {
    await target.query(`CREATE ROLE ${role} LOGIN`);
    await target.createDatabase(role);
  }
  return target;
}

/** A psql process kept open: one query at a time (each answer is what psql printed for it, errors included). */
export interface PsqlSession {
  query(sql: string, timeoutMs?: number): Promise<string>;
  alive(): boolean;
  close(): void;
}

/** Opens `psql` (the program at `psql`) on the connection URL `url` (ON_ERROR_STOP off: an error is an answer). */
export function openPsqlSession(psql: string, url: string): PsqlSession {
  const client = spawn(psql, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0', url], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  client.stdout.on('data', (b: Buffer) => (out += b.toString()));
  client.stderr.on('data', (b: Buffer) => (out += b.toString()));
  client.stdin.on('error', () => undefined);
  let n = 0;
  return {
    async query(sql, timeoutMs = 10_000) {
      const marker = `done-${++n}`;
      client.stdin.write(`${sql};\nselect '${marker}';\n`);
      await waitUntil(`psql answer ${marker}`, () => (out.includes(marker) || client.exitCode !== null ? true : undefined), timeoutMs, () => out);
      const text = out;
      out = '';
      return text;
    },
    alive: () => client.exitCode === null,
    close() {
      client.stdin.end();
      client.kill('SIGKILL');
    },
  };
}
