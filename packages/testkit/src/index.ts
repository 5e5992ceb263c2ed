/**
 * Test harness for every package: real PostgreSQL servers per test file, throwaway TLS fixtures, and discovery
 * of external programs under one policy: a missing program FAILS the file when `CI=true` (naming the Debian
 * package to install) and otherwise SKIPS it with a one-time `skipping ...` notice on stderr.
 *
 * @example
 * ```ts
 * import { describeIfPostgres, requireTool, usePostgres } from '@teleport-ts/testkit';
 *
 * // A real server for this file; tests skip (or fail in CI) when PostgreSQL is not installed.
 * const pg = usePostgres({ settings: { wal_level: 'logical' } });
 * it('reads back', async () => { await pg.server.query('SELECT 1'); });
 *
 * // Any other external program: decide at collection time.
 * const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
 * describe.skipIf(!sshd.available)('against a real sshd', () => { ... });
 * ```
 */
export { findExecutable, isCI, reportMissingDependency, requireTool, type ToolAvailability } from './tools.js';
export {
  POSTGRES_DEBIAN_PACKAGE,
  findPostgresBinaries,
  requirePostgres,
  startPostgres,
  type PostgresBinaries,
  type PostgresServer,
  type PostgresTlsOptions,
  type StartPostgresOptions,
} from './postgres.js';
export { describeIfPostgres, usePostgres, type PostgresHandle } from './vitest.js';
export { makeTestPki, type MakeTestPkiOptions, type TestPki } from './pki.js';
export {
  completeInviteWithoutMfa,
  freePort,
  repoBin,
  runProgram,
  runTshAt,
  spawnDaemon,
  startDaemonProcess,
  waitUntil,
  type Daemon,
  type ProgramResult,
} from './processes.js';
export { agentConfigLines, authProxyConfigLines, roachService } from './configs.js';
export { openPsqlSession, startCertDatabase, type PsqlSession } from './dbtarget.js';
export {
  HA_PASSWORD,
  clusterMemberConfig,
  haLogin,
  startHaCluster,
  startLocalDbProxy,
  type ClusterMemberConfig,
  type HaAgent,
  type HaCluster,
  type HaMember,
  type StartHaClusterOptions,
} from './ha.js';
export { seededRandom } from './random.js';
