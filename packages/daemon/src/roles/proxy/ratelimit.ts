/** The proxy's rate limit: the shared per-address limiter (`http/ratelimit.ts`) with the web default. */
export { newRateLimiter, type RateLimiter,  } from '../../http/ratelimit.js';

/** Default for unauthenticated web endpoints: bursts of 20, then one request per second per address. */
export const DEFAULT_WEB_RATE_LIMIT = Object.freeze({ average: 1, burst: 20 });
