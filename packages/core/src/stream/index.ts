/**
 * `@teleport-ts/core/stream`: helpers for the byte relays of the access paths (tsh's local proxy, the proxy, the
 * agents), where what a hop costs is mostly per chunk and per system call, not per byte.
 */

export { coalesceWrites } from './coalesce.js';
