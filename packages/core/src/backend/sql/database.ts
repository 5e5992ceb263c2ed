import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { AccessDeniedError, BadParameterError, redact } from '../../errors/index.js';
import { poolConfigFor, quoteIdentifier, tlsOptionsFor, type ConnectionSettings } from './connection.js';
import { sqlState, toTeleportError } from './errors.js';

/**
 * Connects once to the configured database and returns the TLS options that worked. With `sslmode`
 * `prefer`/`allow`, TLS is tried first and plain TCP used when the server refuses TLS, as libpq does.
 * When the database does not exist, it is created through `maintenanceDatabase` (the role needs CREATEDB);
 * a concurrent creation by another process is fine.
 */
export async function ensureDatabase(
  settings: ConnectionSettings,
  options: {
    /** Names the caller in messages: `postgres backend`. */
    what: string;
    /** Where `CREATE DATABASE` runs when the database is missing (`postgres` exists on both servers). */
    maintenanceDatabase: string;
    /** CockroachDB accepts a session on a database that does not exist: check the catalog as well. */
    checkCatalog?: boolean;
  },
): Promise<{ ssl: ConnectionOptions | false }> {
  let ssl = tlsOptionsFor(settings);
  const what = options.what;
  const tryConnect = async (database: string | undefined): Promise<pg.Client> => {
    const client = new pg.Client(poolConfigFor(settings, { database, ssl }));
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
  };
  const connect = async (database: string | undefined): Promise<pg.Client> => {
    try {
      return await tryConnect(database);
    } catch (err) {
      const plainAllowed = settings.sslMode === 'prefer' || settings.sslMode === 'allow';
      if (plainAllowed && ssl !== false && err instanceof Error && /does not support SSL/i.test(err.message)) {
        ssl = false;
        return await tryConnect(database);
      }
      throw err;
    }
  };

  let client: pg.Client;
  try {
    client = await connect(settings.database);
  } catch (err) {
    if (sqlState(err) !== '3D000' || !settings.database) throw toTeleportError(err, `${what}: cannot connect`);
    await createDatabase(settings.database, () => connect(options.maintenanceDatabase), what);
    try {
      client = await connect(settings.database);
    } catch (err2) {
      throw toTeleportError(err2, `${what}: cannot connect`);
    }
  }
  try {
    if (options.checkCatalog && settings.database) {
      const res = await client.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [settings.database]);
      if (res.rows.length === 0) await createDatabase(settings.database, async () => client, what, false);
    }
  } catch (err) {
    throw toTeleportError(err, `${what}: cannot check the database`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { ssl };
}

async function createDatabase(
  name: string,
  connect: () => Promise<pg.Client>,
  what: string,
  endAfter = true,
): Promise<void> {
  let admin: pg.Client;
  try {
    admin = await connect();
  } catch (err) {
    throw toTeleportError(err, `${what}: database ${JSON.stringify(name)} does not exist and the maintenance database is unreachable`);
  }
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } catch (err) {
    const state = sqlState(err);
    // 42P04: created meanwhile by another process; 23505: the same race seen through the catalog index.
    if (state === '42P04' || state === '23505') return;
    if (state === '42501') {
      throw new AccessDeniedError(`${what}: database ${JSON.stringify(name)} does not exist and this role may not create it`, {
        hint: 'create the database beforehand or grant the role CREATEDB',
        cause: err,
      });
    }
    if (state === '42602' || state === '42601') {
      throw new BadParameterError(`${what}: invalid database name ${JSON.stringify(redact(name))}`, { cause: err });
    }
    throw toTeleportError(err, `${what}: cannot create database ${JSON.stringify(name)}`);
  } finally {
    if (endAfter) await admin.end().catch(() => undefined);
  }
}
