import { key } from '../backend/keys.js';
import type { Backend } from '../backend/types.js';
import { AlreadyExistsError, NotFoundError, isAlreadyExists, isNotFound } from '../errors/index.js';
import { parseProvisionToken, provisionTokenToWire, type ProvisionToken } from '../types/index.js';
import { decodeJson, encodeJson, getAllWithPrefix, getOptional, storedForm } from './items.js';

const TOKENS_PREFIX = '/tokens/';

/** Backend key of a join token (`/tokens/<name>`). The name is the secret. */
export function provisionTokenKey(name: string): string {
  return key('tokens', name);
}

/**
 * Join (provision) tokens (Teleport's `Provisioner` service). Tokens expire with the backend item, so an
 * expired token is simply absent. Messages never contain a token's name.
 */
export interface ProvisioningService {
  /** The token, or `undefined` when it does not exist or has expired. */
  findToken(name: string): Promise<ProvisionToken | undefined>;
  getTokens(): Promise<ProvisionToken[]>;
  createToken(token: ProvisionToken): Promise<ProvisionToken>;
  deleteToken(name: string): Promise<void>;
}

/**
 * @example
 * ```ts
 * const provisioning = newProvisioningService(backend);
 * await provisioning.createToken(parseProvisionToken({ metadata: { name: newSecretToken(), expires }, spec: { roles: ['Node'] } }));
 * ```
 */
export function newProvisioningService(backend: Backend): ProvisioningService {
  const parse = (item: { key: string; value: Uint8Array }): ProvisionToken => parseProvisionToken(decodeJson(item));
  return {
    async findToken(name) {
      if (name === '' || name.includes('/')) return undefined;
      const item = await getOptional(backend, provisionTokenKey(name));
      return item === undefined ? undefined : parse(item);
    },
    async getTokens() {
      return (await getAllWithPrefix(backend, TOKENS_PREFIX)).map(parse);
    },
    async createToken(token) {
      const expires = token.metadata.expires === undefined ? undefined : new Date(token.metadata.expires);
      try {
        await backend.create({ key: provisionTokenKey(token.metadata.name), value: encodeJson(storedForm(provisionTokenToWire(token))), expires });
      } catch (err) {
        if (isAlreadyExists(err)) throw new AlreadyExistsError('a join token with this name already exists');
        throw err;
      }
      return token;
    },
    async deleteToken(name) {
      // key() would quote the name in its error; a token's name is a secret.
      if (name === '' || name.includes('/')) throw new NotFoundError('join token is not found');
      try {
        await backend.delete(provisionTokenKey(name));
      } catch (err) {
        if (isNotFound(err)) throw new NotFoundError('join token is not found');
        throw err;
      }
    },
  };
}
