/** An injectable clock: everything that reads time takes one, so tests never sleep to wait for time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that moves only when told to. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(date: Date): void;
}

/**
 * @example
 * ```ts
 * const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
 * clock.advance(60_000);
 * ```
 */
export function newFakeClock(start: Date = new Date()): FakeClock {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance: (ms) => {
      t += ms;
    },
    set: (d) => {
      t = d.getTime();
    },
  };
}
