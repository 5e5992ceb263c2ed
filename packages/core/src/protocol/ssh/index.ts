/**
 * `@teleport-ts/core/protocol/ssh`: SSH client and server wrappers over `ssh2` (patched, see `patches/`) for
 * OpenSSH certificates: a client logging in with a user certificate and trusting hosts only through host
 * certificates from the host CA; a server presenting a host certificate and checking user certificates.
 * It loads ssh2 and node:crypto, not the daemon.
 */

export { connectSsh, type SshClientConnection, type SshClientOptions } from './client.js';
export { SSH_CERT_KEY_TYPES, sshCertKey } from './keys.js';
export { newSshServer, verifyCertAuth, type CertAuthOptions, type SshServer, type SshServerOptions } from './server.js';
/** ssh2's client-side types, for clients of this module that do not depend on ssh2 themselves (tsh). */
export type { Client, ClientChannel, PseudoTtyOptions, SFTPWrapper, Stats } from 'ssh2';
