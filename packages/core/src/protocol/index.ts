/**
 * `@teleport-ts/core/protocol`: wire protocols the proxy and agents speak. Each protocol is a namespace here and
 * its own entry point (`@teleport-ts/core/protocol/postgres`). Protocol code is pure and bounded: it knows nothing
 * of RBAC or CAs, and never trusts a length field without a cap.
 *
 * @example
 * ```ts
 * import { postgres } from '@teleport-ts/core/protocol';
 * socket.end(postgres.serializeErrorResponse({ severity: 'FATAL', code: postgres.SQLSTATE.invalidAuthorizationSpecification, message: 'access denied' }));
 * ```
 */

export * as postgres from './postgres/index.js';
