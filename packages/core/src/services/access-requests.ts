import { key } from '../backend/keys.js';
import type { Backend, Item } from '../backend/types.js';
import { AlreadyExistsError, NotFoundError, isAlreadyExists, isNotFound } from '../errors/index.js';
import { accessRequestToWire, parseAccessRequest, type AccessRequest } from '../types/index.js';
import { decodeJson, encodeJson, getAllWithPrefix, getOptional, storedForm, updateWithRetry, withRevision } from './items.js';

const ACCESS_REQUESTS_PREFIX = '/access_requests/';

/** Backend key of an access request (`/access_requests/<id>`). */
export function accessRequestKey(id: string): string {
  return key('access_requests', id);
}

/** Access request storage (Teleport's `DynamicAccess` service). Reads fill `metadata.revision`. */
export interface AccessRequestService {
  /** Throws already-exists when the id is taken. */
  createAccessRequest(request: AccessRequest): Promise<AccessRequest>;
  getAccessRequest(id: string): Promise<AccessRequest>;
  getAccessRequests(): Promise<AccessRequest[]>;
  /**
   * Read-modify-write that several auth servers may run at once (a conditional write, retried when another writer got
   * in first, so two concurrent reviews are both counted). `update` returns the new request, or `undefined` to write
   * nothing; it may throw to refuse.
   */
  updateAccessRequest(id: string, update: (current: AccessRequest) => AccessRequest | undefined): Promise<{ before: AccessRequest; after: AccessRequest }>;
  deleteAccessRequest(id: string): Promise<void>;
  /**
   * Resolves with the request once it is no longer PENDING, or as it is when `timeoutMs` passes (through a backend
   * watcher, so a decision made on another auth server is seen at once).
   */
  waitForDecision(id: string, timeoutMs: number): Promise<AccessRequest>;
}

/**
 * How long the stored item lives: a pending or denied request until `metadata.expires`, an approved one until its access
 * expiry (whichever is later), so the backend drops it when it can no longer be used.
 */
function itemExpiry(request: AccessRequest): Date | undefined {
  const lapses = request.metadata.expires !== undefined ? Date.parse(request.metadata.expires) : undefined;
  if (request.spec.state !== 'APPROVED') return lapses !== undefined ? new Date(lapses) : undefined;
  return new Date(Math.max(lapses ?? 0, Date.parse(request.spec.expires)));
}

const notFound = (id: string): NotFoundError => new NotFoundError(`access request ${JSON.stringify(id)} is not found`);
const parseItem = (item: Pick<Item, 'key' | 'value' | 'revision'>): AccessRequest => parseAccessRequest(withRevision(decodeJson(item), item));
const stored = (request: AccessRequest): Record<string, unknown> => storedForm(accessRequestToWire(request));

/**
 * @example
 * ```ts
 * const requests = newAccessRequestService(backend);
 * await requests.updateAccessRequest(id, (r) => withReview(r, review));
 * ```
 */
export function newAccessRequestService(backend: Backend): AccessRequestService {
  const get = async (id: string): Promise<AccessRequest> => {
    const item = await getOptional(backend, accessRequestKey(id));
    if (item === undefined) throw notFound(id);
    return parseItem(item);
  };
  return {
    async createAccessRequest(request) {
      const expires = itemExpiry(request);
      try {
        const lease = await backend.create({ key: accessRequestKey(request.metadata.name), value: encodeJson(stored(request)), expires });
        return parseAccessRequest(withRevision(accessRequestToWire(request), lease));
      } catch (err) {
        if (isAlreadyExists(err)) throw new AlreadyExistsError(`access request ${JSON.stringify(request.metadata.name)} already exists`);
        throw err;
      }
    },
    getAccessRequest: get,
    async getAccessRequests() {
      return (await getAllWithPrefix(backend, ACCESS_REQUESTS_PREFIX)).map(parseItem);
    },
    async updateAccessRequest(id, update) {
      let before: AccessRequest | undefined;
      let after: AccessRequest | undefined;
      await updateWithRetry(backend, accessRequestKey(id), (current) => {
        if (current === undefined) throw notFound(id);
        before = parseItem(current);
        after = update(before);
        if (after === undefined) return undefined;
        return { value: stored(after), expires: itemExpiry(after) };
      });
      return { before: before!, after: after ?? before! };
    },
    async deleteAccessRequest(id) {
      try {
        await backend.delete(accessRequestKey(id));
      } catch (err) {
        if (isNotFound(err)) throw notFound(id);
        throw err;
      }
    },
    waitForDecision: (id, timeoutMs) => waitForDecision(backend, get, id, timeoutMs),
  };
}

async function waitForDecision(backend: Backend, get: (id: string) => Promise<AccessRequest>, id: string, timeoutMs: number): Promise<AccessRequest> {
  const watcher = await backend.newWatcher({ prefixes: [accessRequestKey(id)], name: `access request ${id}` });
  const timer = setTimeout(() => watcher.close(), timeoutMs);
  try {
    let current: AccessRequest | undefined;
    for await (const event of watcher) {
      if (event.type === 'init') current = await get(id);
      else if (event.type === 'put' && event.item.key === accessRequestKey(id)) current = parseItem(event.item);
      else if (event.type === 'delete' && event.item.key === accessRequestKey(id)) throw notFound(id);
      if (current !== undefined && current.spec.state !== 'PENDING') return current;
    }
    return current ?? (await get(id));
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}
