export * from './errors/index.js';
export * from './version/index.js';
export * from './clock/index.js';
