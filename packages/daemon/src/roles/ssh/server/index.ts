/**
 * The node's SSH server (issue 11): `newNodeSshServer` serves raw SSH streams handed to it by the node service;
 * `newRoleAccess` is its access check over the user's roles. The option types (access check, lock view, audit
 * emitter, recorder factory) are in `./types.ts`.
 */
export { newNodeSshServer, type NodeSshServer } from './node-server.js';
export { newRoleAccess } from './access.js';
export type { NodeSshServerOptions, SshAuditEventName, SshAuditFields, SshRelay, SshSessionRecorder, SshSessionStart } from './types.js';
