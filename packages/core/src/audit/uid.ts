/**
 * Event uids: UUIDv7 (RFC 9562), time-ordered, so a store's unique index on the uid grows at its right edge instead
 * of taking every insert on a random page. With random (v4) uids each query event dirtied a random leaf of the
 * sqlite uid index: a database session's query audit wrote ~6 KB of WAL per event and was the largest single cost
 * per query through the database chain (`pnpm bench db`).
 */

import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 256;
const pool = Buffer.alloc(POOL_BYTES);
let poolOffset = POOL_BYTES;
let lastMs = -1;
let sequence = 0;
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A new UUIDv7: 48 bits of Unix milliseconds, a 12-bit sequence that orders uids made in the same millisecond (started
 * at a random value each millisecond), then 62 random bits. Uids from one process sort in creation order.
 *
 * @example
 * ```ts
 * newEventUid(); // '019aa5b2-3c4d-7e12-9f3a-5b6c7d8e9f01'
 * ```
 */
export function newEventUid(nowMs: number = Date.now()): string {
  if (poolOffset + 16 > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const b = pool.subarray(poolOffset, poolOffset + 16);
  poolOffset += 16;
  let ms = nowMs;
  if (ms <= lastMs) {
    ms = lastMs;
    sequence++;
    if (sequence > 0xfff) {
      // 4096 uids in one millisecond: borrow the next one (keeps the order; clocks catch up).
      ms++;
      sequence = b[6]! & 0x7f;
    }
  } else {
    sequence = ((b[6]! << 8) | b[7]!) & 0x7ff;
  }
  lastMs = ms;
  // 48-bit timestamp, big-endian.
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((sequence >>> 8) & 0x0f);
  b[7] = sequence & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = (i: number): string => HEX[b[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
