import { seededRandom as seeded } from '@teleport-ts/testkit';
import { describe, expect, it } from 'vitest';
import { itemsJson, listingOrder, type Listed } from './listing.js';

interface Value extends Listed {
  readonly rank: number;
}

const value = (key: string, rank: number): Value => ({ key, rank, json: JSON.stringify({ key, rank }) });
const byRankThenKey = (a: Value, b: Value): number => a.rank - b.rank || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const byRank = (a: Value, b: Value): number => a.rank - b.rank;

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The next listing: some items removed, some added, some re-ranked (new objects, as a heartbeat writes), in a new input order. */
function nextRound(values: readonly Value[], random: () => number, fresh: () => string, ranks: number): Value[] {
  const kept = values.filter(() => random() > 0.1).map((v) => (random() < 0.2 ? value(v.key, Math.floor(random() * ranks)) : v));
  const added = Array.from({ length: Math.floor(random() * 30) }, () => value(fresh(), Math.floor(random() * ranks)));
  return shuffled([...kept, ...added], random);
}

describe('listingOrder', () => {
  it('equals a fresh full sort after items are added, removed and re-ordered between calls', () => {
    const random = seeded(42);
    let next = 0;
    const fresh = () => `/nodes/${(next++).toString().padStart(5, '0')}`;
    const order = listingOrder(byRankThenKey);
    let values = Array.from({ length: 300 }, () => value(fresh(), Math.floor(random() * 1000)));
    for (let round = 0; round < 25; round++) {
      const input = [...values];
      const sorted = order(values);
      expect(sorted).toEqual([...values].sort(byRankThenKey));
      // The very objects of this call, each once; the input left as it was.
      expect(sorted).toHaveLength(values.length);
      const current = new Map(values.map((v) => [v.key, v]));
      for (const v of sorted) expect(v).toBe(current.get(v.key));
      expect(values).toEqual(input);
      values = nextRound(values, random, fresh, 1000);
    }
  });

  it('breaks ties by key, so the order of equal items never depends on earlier listings', () => {
    const byKey = (a: { key: string }, b: { key: string }): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const order = listingOrder(byRank);
    expect(order([value('b', 1), value('a', 1), value('c', 0)]).map((v) => v.key)).toEqual(['c', 'a', 'b']);
    // The same items in another order: the previous listing had them a, b; a fresh listing in reverse gives the same.
    expect(listingOrder(byRank)([value('c', 0), value('b', 1), value('a', 1)]).map((v) => v.key)).toEqual(['c', 'a', 'b']);
    const random = seeded(11);
    const values = Array.from({ length: 100 }, (_, i) => value(`/k/${String(i).padStart(3, '0')}`, Math.floor(random() * 3)));
    expect(order(values)).toEqual([...values].sort((a, b) => byRank(a, b) || byKey(a, b)));
  });

  it('sorts by the comparator even when it ties (same ranks, every round)', () => {
    const random = seeded(7);
    let next = 0;
    const fresh = () => `/db_servers/${next++}`;
    const order = listingOrder(byRank);
    let values = Array.from({ length: 200 }, () => value(fresh(), Math.floor(random() * 5)));
    for (let round = 0; round < 25; round++) {
      const sorted = order(values);
      expect(sorted.map((v) => v.rank)).toEqual([...values].sort(byRank).map((v) => v.rank));
      expect(new Set(sorted)).toEqual(new Set(values));
      values = nextRound(values, random, fresh, 5);
    }
  });

  it('moves an item whose sort field changed and drops one that is gone', () => {
    const order = listingOrder(byRankThenKey);
    expect(order([value('a', 1), value('b', 2), value('c', 3)]).map((v) => v.key)).toEqual(['a', 'b', 'c']);
    const moved = value('a', 4);
    const sorted = order([value('c', 3), moved, value('d', 0)]);
    expect(sorted.map((v) => v.key)).toEqual(['d', 'c', 'a']);
    expect(sorted[2]).toBe(moved);
    expect(order([])).toEqual([]);
    expect(order([value('b', 2)]).map((v) => v.key)).toEqual(['b']);
  });

  it('starts from the previous order: a reshuffled, unchanged listing takes one comparison per item', () => {
    const random = seeded(1);
    let comparisons = 0;
    const order = listingOrder((a: Value, b: Value) => {
      comparisons++;
      return byRankThenKey(a, b);
    });
    const values = Array.from({ length: 2000 }, (_, i) => value(`/nodes/${i}`, Math.floor(random() * 1_000_000)));
    order(shuffled(values, random));
    expect(comparisons).toBeGreaterThan(values.length * 5);
    comparisons = 0;
    const sorted = order(shuffled(values, random));
    expect(comparisons).toBeLessThan(values.length);
    expect(sorted).toEqual([...values].sort(byRankThenKey));
  });

  it('keeps each listing order to itself', () => {
    const first = listingOrder(byRankThenKey);
    const second = listingOrder((a: Value, b: Value) => -byRankThenKey(a, b));
    const values = [value('a', 1), value('b', 2)];
    expect(first(values).map((v) => v.key)).toEqual(['a', 'b']);
    expect(second(values).map((v) => v.key)).toEqual(['b', 'a']);
    expect(first(values).map((v) => v.key)).toEqual(['a', 'b']);
  });
});

describe('itemsJson', () => {
  it('joins the items JSON into {"items":[...]} in their order', () => {
    const values = [value('/nodes/b', 2), value('/nodes/a', 1), { key: '/nodes/q', json: JSON.stringify({ text: 'a "quoted",\n[line]' }) }];
    expect(JSON.parse(itemsJson(values).text)).toEqual({ items: [{ key: '/nodes/b', rank: 2 }, { key: '/nodes/a', rank: 1 }, { text: 'a "quoted",\n[line]' }] });
  });

  it('gives {"items":[]} for no items and a one-item list for one', () => {
    expect(itemsJson([]).text).toBe('{"items":[]}');
    expect(itemsJson([value('k', 1)]).text).toBe('{"items":[{"key":"k","rank":1}]}');
  });
});
