/** Capped exponential backoff with full jitter. */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

/** Delay before retry number `attempt` (0-based): random in [0, min(max, base * 2^attempt)). */
export function jitteredBackoff(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 5;
  const max = options.maxMs ?? 1000;
  const rnd = options.random ?? Math.random;
  const cap = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.floor(cap / 2 + rnd() * (cap / 2));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
