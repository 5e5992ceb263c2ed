export * from './client.js';
export * from './auth.js';
export * from './identity.js';
export * from './join.js';
