import { rangeEnd } from '../backend/keys.js';
import { SortedKeys, compareCodePoints } from '../backend/memory/sorted-keys.js';
import { MAX_RANGE_LIMIT, type BackendEvent, type Item } from '../backend/types.js';

/** The items of one cached prefix, ordered as the backend orders keys. */
interface Collection {
  readonly prefix: string;
  readonly end: string;
  readonly items: Map<string, Item>;
  index: SortedKeys;
}

/**
 * What the cache holds: one ordered collection per prefix. Reads hide items whose expiry has passed, so an
 * expired item disappears at its expiry even when the sweep's `delete` has not arrived yet.
 */
export class CacheStore {
  readonly #collections: Collection[];

  constructor(prefixes: readonly string[]) {
    this.#collections = prefixes.map((prefix) => ({ prefix, end: rangeEnd(prefix), items: new Map(), index: new SortedKeys() }));
  }

  /** The collection holding `key`, if any. */
  collectionOf(key: string): string | undefined {
    return this.#find(key)?.prefix;
  }

  /** The prefix whose collection holds every key of `[start, end)`, if one does. */
  coveringPrefix(start: string, end: string): string | undefined {
    for (const c of this.#collections) {
      if (start.startsWith(c.prefix) && (end === c.end || end.startsWith(c.prefix))) return c.prefix;
    }
    return undefined;
  }

  /** Prefixes whose collections intersect `[start, end)`. */
  overlapping(start: string, end: string): string[] {
    return this.#collections.filter((c) => compareCodePoints(start, c.end) < 0 && compareCodePoints(c.prefix, end) < 0).map((c) => c.prefix);
  }

  get(key: string, now: Date): Item | undefined {
    const item = this.#find(key)?.items.get(key);
    return item === undefined || isExpired(item, now) ? undefined : item;
  }

  /** Live items with `start <= key < end` of the collection `prefix`, ascending, at most `limit`. */
  range(prefix: string, start: string, end: string, now: Date, limit = MAX_RANGE_LIMIT): Item[] {
    const c = this.#collections.find((x) => x.prefix === prefix);
    if (c === undefined) return [];
    const out: Item[] = [];
    const max = Math.min(Math.max(1, limit), MAX_RANGE_LIMIT);
    for (const k of c.index.scan(start, end)) {
      const item = c.items.get(k);
      if (item === undefined || isExpired(item, now)) continue;
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }

  /** Applies one watch event; events for keys outside every collection are ignored. */
  apply(event: BackendEvent): void {
    if (event.type === 'init') return;
    const c = this.#find(event.item.key);
    if (c === undefined) return;
    if (event.type === 'put') {
      if (!c.items.has(event.item.key)) c.index.insert(event.item.key);
      c.items.set(event.item.key, event.item);
    } else if (c.items.delete(event.item.key)) {
      c.index.remove(event.item.key);
    }
  }

  /** Replaces everything with a snapshot (the items of a range read). */
  load(items: readonly Item[]): void {
    for (const c of this.#collections) {
      c.items.clear();
      c.index = new SortedKeys();
    }
    for (const item of items) this.apply({ type: 'put', item });
  }

  /** How many items are held (expired ones not yet deleted included). */
  get size(): number {
    return this.#collections.reduce((n, c) => n + c.items.size, 0);
  }

  #find(key: string): Collection | undefined {
    return this.#collections.find((c) => key.startsWith(c.prefix));
  }
}

function isExpired(item: Item, now: Date): boolean {
  return item.expires !== undefined && item.expires.getTime() <= now.getTime();
}
