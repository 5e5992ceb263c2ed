/** The db role: the database agent. See `./service.ts`. */
export { DB_IDENTITY_DIR, DEFAULT_DB_HEARTBEAT, startDatabaseService, type DatabaseService, type DatabaseServiceOptions } from './service.js';
export { databaseFromFlags, loadDatabaseSpecs, resolveJoinToken, type DatabaseFlags, type DatabaseSpec } from './config.js';
export { DATABASE_STREAM_PROTOCOL, parseDatabaseStreamMeta, type DatabaseStreamMeta } from './wire.js';
