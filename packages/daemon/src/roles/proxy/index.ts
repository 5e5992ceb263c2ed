/** The proxy role. See `./service.ts`. */
export { startProxyService,  type ProxyService,  } from './service.js';
;
;
;
export { type ProxyAuthApi } from './web/api.js';
export { colocatedProxyIdentity, startProxyRole,  type ProxyRoleOptions } from './role.js';
