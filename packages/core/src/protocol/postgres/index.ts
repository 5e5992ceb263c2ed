/**
 * `@teleport-ts/core/protocol/postgres` (also `postgres` in `@teleport-ts/core/protocol`): the PostgreSQL wire
 * protocol pieces the proxy and the database agent need, in the style of node-postgres' `pg-protocol` plus caps on
 * every length read from the network. Pure parsers and serializers, two pass-through Transforms, and cancel-key
 * routing.
 *
 * @example
 * ```ts
 * import { backendMessageTap, frontendMessageTap, newCancelKeyRegistry, readStartupMessage,
 *   serializeEncryptionResponse, serializeErrorResponse, SQLSTATE } from '@teleport-ts/core/protocol/postgres';
 *
 * let { message, raw } = await readStartupMessage(client);
 * if (message.type === 'sslRequest') {
 *   client.write(serializeEncryptionResponse(false));
 *   ({ message, raw } = await readStartupMessage(client));
 * }
 * if (message.type === 'startupMessage' && message.parameters.database !== 'app') {
 *   client.end(serializeErrorResponse({ severity: 'FATAL', code: SQLSTATE.invalidCatalogName, message: 'no such database' }));
 * }
 * ```
 */

export * from './constants.js';
export type * from './messages.js';
export { PG_PROTOCOL_ERROR_CODES } from './buffer.js';
export {
  serializeAuthenticationCleartextPassword,
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCancelRequest,
  serializeClose,
  serializeCommandComplete,
  serializeDataRow,
  serializeDescribe,
  serializeEncryptionResponse,
  serializeErrorResponse,
  serializeExecute,
  serializeFlush,
  serializeGssEncRequest,
  serializeNoticeResponse,
  serializeParameterStatus,
  serializeParse,
  serializePasswordMessage,
  serializeQuery,
  serializeReadyForQuery,
  serializeSslRequest,
  serializeStartupMessage,
  serializeSync,
  serializeTerminate,
  type StartupMessageInput,
} from './serializer.js';
export {
  parseStartupMessage,
  readStartupMessage,
  type ParsedStartupMessage,
  type ReadStartupMessageOptions,
  type ReadStartupMessageResult,
  type StartupParseOptions,
} from './startup.js';
export {
  decodeBackendMessage,
  decodeFrontendMessage,
  newBackendParser,
  newFrontendParser,
  type MessageParserOptions,
  type MessageStreamParser,
  type ParsedSegment,
} from './parser.js';
export { readClientStartup, type ClientStartup } from './client-startup.js';
export { refuseConnection, refusalSqlState, STARTUP_TIMEOUT_MS, type RefusalOptions } from './refusal.js';
export { backendMessageTap, frontendMessageTap, type BackendMessageTapOptions, type FrontendMessageTapOptions } from './tap.js';
export {
  DEFAULT_MAX_CANCEL_KEYS,
  newCancelKeyRegistry,
  sendCancelRequest,
  type CancelKeyRegistry,
  type CancelKeyRegistryOptions,
  type IssuedCancelKey,
} from './cancel.js';
