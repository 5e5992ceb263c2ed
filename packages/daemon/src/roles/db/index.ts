/** The db role: the database agent. See `./service.ts`. */
export {   startDatabaseService, type DatabaseService, type DatabaseServiceOptions } from './service.js';
export { databaseFromFlags,  resolveJoinToken,   } from './config.js';
;
