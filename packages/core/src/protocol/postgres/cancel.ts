/**
 * Cancel routing. A client cancels a running query by opening a NEW connection and sending a CancelRequest with
 * the key it got in BackendKeyData. Behind a proxy the real key must never reach the client (it would let the
 * client cancel other sessions' queries by guessing, and it names a backend the client cannot reach anyway), so the
 * proxy hands out its own random key and keeps the mapping here; a later CancelRequest is looked up and forwarded
 * to the right database with the real key.
 */

import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ConnectionProblemError, LimitExceededError } from '../../errors/index.js';
import { CANCEL_SECRET_KEY_LENGTH_3_0, MAX_CANCEL_SECRET_KEY_LENGTH } from './constants.js';
import type { BackendKey } from './messages.js';
import { serializeCancelRequest } from './serializer.js';

/** Default bound on live entries of a {@link CancelKeyRegistry}. */
export const DEFAULT_MAX_CANCEL_KEYS = 100_000;

/** Options for {@link newCancelKeyRegistry}. */
export interface CancelKeyRegistryOptions {
  /** Refuse to register more than this many live keys. Default {@link DEFAULT_MAX_CANCEL_KEYS}. */
  maxEntries?: number;
}

/** A key issued by {@link CancelKeyRegistry.register}. */
export interface IssuedCancelKey {
  /** Send this to the client in BackendKeyData instead of the server's key. */
  key: BackendKey;
  /** Forget the key; call when the session ends. Idempotent. */
  release(): void;
}

/** Maps proxy-issued cancel keys to whatever is needed to cancel on the real backend. */
export interface CancelKeyRegistry<T> {
  /**
   * Issues a fresh random key for a session: a process id in [1, 2^31) not in use and a secret of
   * `secretKeyLength` random bytes (default 4, the protocol 3.0 size; use the server's secret length for 3.2).
   *
   * @throws LimitExceededError `ERR_TP_PG_TOO_MANY_CANCEL_KEYS` when `maxEntries` keys are live.
   */
  register(target: T, options?: { secretKeyLength?: number }): IssuedCancelKey;
  /**
   * The target of a presented key, or `undefined`. The secret is compared in constant time; an unknown process
   * id and a wrong secret are indistinguishable to the caller (a server answers neither).
   */
  lookup(key: BackendKey): T | undefined;
  /** Number of live keys. */
  readonly size: number;
}

interface Entry<T> {
  secretKey: Buffer;
  target: T;
}

/**
 * Creates a registry of proxy-issued cancel keys.
 *
 * @example
 * ```ts
 * const registry = newCancelKeyRegistry<{ serverKey: BackendKey; dial: () => Promise<Duplex> }>();
 * // server -> client: hand out our key instead of the server's
 * const issued = registry.register({ serverKey, dial }, { secretKeyLength: serverKey.secretKey.length });
 * session.once('close', issued.release);
 * // later, on a fresh connection carrying a CancelRequest:
 * const target = registry.lookup(cancelRequest);
 * if (target) await sendCancelRequest(await target.dial(), target.serverKey);
 * ```
 */
export function newCancelKeyRegistry<T>(options: CancelKeyRegistryOptions = {}): CancelKeyRegistry<T> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_CANCEL_KEYS;
  const entries = new Map<number, Entry<T>>();
  // Compared against when the process id is unknown, so both failures take the same path.
  const decoy = randomBytes(MAX_CANCEL_SECRET_KEY_LENGTH);

  return {
    register(target, registerOptions = {}) {
      const secretKeyLength = registerOptions.secretKeyLength ?? CANCEL_SECRET_KEY_LENGTH_3_0;
      if (!Number.isInteger(secretKeyLength) || secretKeyLength < 4 || secretKeyLength > MAX_CANCEL_SECRET_KEY_LENGTH) {
        throw new TypeError(`secretKeyLength must be 4 to ${MAX_CANCEL_SECRET_KEY_LENGTH}`);
      }
      if (entries.size >= maxEntries) {
        throw new LimitExceededError(`too many PostgreSQL sessions hold cancel keys (${maxEntries})`, { code: 'ERR_TP_PG_TOO_MANY_CANCEL_KEYS' });
      }
      let processId: number;
      do processId = randomInt(1, 0x80000000);
      while (entries.has(processId));
      const entry: Entry<T> = { secretKey: randomBytes(secretKeyLength), target };
      entries.set(processId, entry);
      return {
        key: { processId, secretKey: Buffer.from(entry.secretKey) },
        release: () => {
          if (entries.get(processId) === entry) entries.delete(processId);
        },
      };
    },
    lookup(key) {
      const entry = entries.get(key.processId);
      const expected = entry?.secretKey ?? decoy;
      const presented = key.secretKey;
      const sameLength = presented.length === expected.length;
      // timingSafeEqual needs equal lengths; compare the expected secret with itself when they differ.
      const equal = timingSafeEqual(sameLength ? presented : expected, expected);
      return entry !== undefined && sameLength && equal ? entry.target : undefined;
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * Sends a CancelRequest on a freshly connected stream (plain TCP, or TLS after an SSLRequest) and waits until the
 * server closes it, as servers do without replying.
 *
 * @throws ConnectionProblemError when the connection fails or `signal` aborts first.
 *
 * @example
 * ```ts
 * await sendCancelRequest(net.connect({ host, port }), serverKey, { signal: AbortSignal.timeout(5_000) });
 * ```
 */
export function sendCancelRequest(stream: Duplex, key: BackendKey, options: { signal?: AbortSignal } = {}): Promise<void> {
  const request = serializeCancelRequest(key);
  return new Promise((resolve, reject) => {
    const { signal } = options;
    const done = (err?: unknown) => {
      stream.removeListener('close', onClose);
      stream.removeListener('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else {
        stream.destroy();
        reject(new ConnectionProblemError('could not deliver the PostgreSQL cancel request', { cause: err }));
      }
    };
    const onClose = () => done();
    const onError = (err: unknown) => done(err);
    const onAbort = () => done(signal?.reason);
    if (signal?.aborted) {
      onAbort();
      return;
    }
    stream.once('close', onClose);
    stream.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Read and drop anything (there should be nothing) so 'close' can follow the server's FIN.
    stream.resume();
    stream.end(request);
  });
}
