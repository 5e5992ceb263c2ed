/**
 * The light client surface (`@teleport-ts/core/api`): the typed auth API client, its wire shapes and response
 * schemas, client identities on disk, and joining. Loads no issuance library, database driver or server code (a
 * test in packages/tsh bundles tsh and checks), so CLIs, a web UI or plugins can import it.
 */
export * from './client.js';
export * from './auth.js';
export * from './identity.js';
export * from './join.js';
export * from './responses.js';
export * from './recordings.js';
export { requestJson, requestText, DEFAULT_REQUEST_TIMEOUT_MS, type JsonRequest, type TextRequest } from './http.js';
