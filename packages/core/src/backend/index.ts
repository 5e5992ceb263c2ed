export * from './types.js';
export * from './keys.js';
export * from './watcher.js';
export * from './retry.js';
export { openBackend, type OpenBackendOptions } from './open.js';
