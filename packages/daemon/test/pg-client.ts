/**
 * node-postgres for the daemon's tests, typed here: the daemon depends on `pg` but not on `@types/pg` (core and
 * testkit have it), so the small surface the tests use is declared below.
 */

// @ts-expect-error -- no type declarations for `pg` in this package (see above).
import pgModule from 'pg';

interface PgClientConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  ssl?: false;
  connectionTimeoutMillis?: number;
}

export interface PgClient {
  connect(): Promise<void>;
  query<R = Record<string, unknown>>(query: string | { text: string; values?: unknown[] }): Promise<{ rows: R[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): void;
  /** From the BackendKeyData the client received. */
  readonly processID: number;
  readonly secretKey: number;
}

/** `new pg.Client(config)`. */
export const PgClient: new (config: PgClientConfig) => PgClient = (pgModule as { Client: new (config: PgClientConfig) => PgClient }).Client;
