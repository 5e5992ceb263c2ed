export { ADMIN_IDENTITY_DIR, issueLocalHostIdentity, startAuthServer, type AuthServer, type AuthServerOptions } from './server.js';
export { HOST_UUID_FILE, loadOrCreateHostUuid } from './init.js';
