import type { Logger } from '../src/logger.js';

/** A logger that drops everything, for proxy tests. */
export const nopLoggerForTests: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => nopLoggerForTests,
  close: async () => {},
};
