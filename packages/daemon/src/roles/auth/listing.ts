/**
 * What `GET /nodes` and `GET /dbservers` (`tsh ls`, `tsh db ls`) build their answers from. The auth cache hands out
 * the same item object until that key is written again (a heartbeat), so each item is decoded and checked once per
 * heartbeat, not once per listing: at 10,000 nodes a listing then only filters by the caller's roles, sorts and
 * serialises.
 */

import type { Item } from '@teleport-ts/core/backend';

/** `decode`, remembered per item object (forgotten with it). */
export function decodedPerItem<T>(decode: (item: Item) => T): (item: Item) => T {
  const seen = new WeakMap<Item, T>();
  return (item) => {
    let value = seen.get(item);
    if (value === undefined) {
      value = decode(item);
      seen.set(item, value);
    }
    return value;
  };
}
