/**
 * The node's SSH server (issue 11): `newNodeSshServer` serves raw SSH streams handed to it by the node service;
 * `newRoleAccess` is its access check over the user's roles.
 */
export { newNodeSshServer, type NodeSshServer } from './node-server.js';
export { newRoleAccess, type RoleAccessOptions } from './access.js';
export type {
  NodeSshServerOptions,
  SshAccessCheck,
  SshAccessDecision,
  SshAccessRequest,
  SshAuditEmitter,
  SshAuditEventName,
  SshAuditFields,
  SshLockView,
  SshRecorderFactory,
  SshSessionRecorder,
  SshSessionStart,
} from './types.js';
