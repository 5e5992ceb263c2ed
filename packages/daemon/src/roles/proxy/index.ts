/** The proxy role. See `./service.ts`. */
export { startProxyService, type ProxyLogger, type ProxyService, type ProxyServiceOptions } from './service.js';
export { ALPN_PROTOCOLS, newAlpnListener, spliceTo, type AlpnListener, type ConnectionInfo, type ProtocolRegistry, type ProtocolRoute } from './alpn.js';
export { readClientHello, type ClientHello } from './clienthello.js';
export { type HttpsKeyPair } from './certificate.js';
export { type ProxyAuthApi } from './web/api.js';
export { colocatedProxyIdentity, startProxyRole, PROXY_IDENTITY_DIR, type ProxyRoleOptions } from './role.js';
