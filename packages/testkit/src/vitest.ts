import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { requirePostgres, startPostgres, type PostgresServer, type StartPostgresOptions } from './postgres.js';

/** What {@link usePostgres} returns: the file's server, once `beforeAll` has started it. */
export interface PostgresHandle {
  /** False when the server binaries are missing (the tests in scope are skipped). */
  readonly available: boolean;
  /** The running server; throws when read before `beforeAll` ran or when PostgreSQL is unavailable. */
  readonly server: PostgresServer;
}

/**
 * One real PostgreSQL server for the enclosing test file or `describe` block: `beforeAll` starts it, `afterAll`
 * destroys it. When the binaries are missing and `CI=true`, `beforeAll` fails naming the package to install;
 * otherwise every test in scope is skipped (with a one-time notice on stderr).
 *
 * @example
 * ```ts
 * const pg = usePostgres({ settings: { wal_level: 'logical' } });
 * it('connects', async () => {
 *   expect(await pg.server.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
 * });
 * ```
 */
export function usePostgres(options: StartPostgresOptions = {}): PostgresHandle {
  let server: PostgresServer | undefined;
  let available = true;
  let missing: Error | undefined;
  try {
    available = requirePostgres() !== undefined;
  } catch (err) {
    // CI: fail in the hook rather than at import, so the report points at the suite that needs PostgreSQL.
    available = false;
    missing = err as Error;
  }

  if (missing !== undefined) {
    const err = missing;
    beforeAll(() => {
      throw err;
    });
  } else if (!available) {
    beforeEach((ctx) => ctx.skip('PostgreSQL server binaries not found'));
  } else {
    beforeAll(async () => {
      server = await startPostgres(options);
    });
    afterAll(async () => {
      await server?.destroy();
      server = undefined;
    });
  }

  return {
    available,
    get server(): PostgresServer {
      if (server === undefined) {
        throw new Error(available ? 'usePostgres(): the server is not started yet; use it inside tests or later hooks' : 'usePostgres(): PostgreSQL is not available');
      }
      return server;
    },
  };
}

/**
 * `describe` that runs only where the PostgreSQL server binaries are installed: skipped with a notice locally,
 * a failure (thrown at collection) when `CI=true`. Inside, call {@link usePostgres} for a server.
 *
 * @example
 * ```ts
 * describeIfPostgres('postgres backend', () => {
 *   const pg = usePostgres();
 *   it('...', async () => { ... });
 * });
 * ```
 */
export function describeIfPostgres(name: string, fn: () => void): void {
  describe.skipIf(requirePostgres() === undefined)(name, fn);
}
