export {  issueLocalHostIdentity, startAuthServer, type AuthServer, type AuthServerOptions } from './server.js';
export {  loadOrCreateHostUuid } from './init.js';
