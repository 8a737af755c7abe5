import type { Middleware } from 'koa';
import { RateLimitedError } from '../errors';
import type { AppState } from './state';

/**
 * Per-user token bucket: `perMinute` requests a minute, with bursts up to that many. Kept in
 * process memory, so with N API processes a user gets up to N times the rate; a shared limit
 * belongs in front of the API (a gateway) if that matters. `perMinute` 0 turns it off.
 */
export function rateLimitPerUser(
  perMinute: number,
  now: () => number = Date.now,
): Middleware<AppState> {
  if (perMinute <= 0) return (_ctx, next) => next();
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  return async (ctx, next) => {
    const t = now();
    if (t - lastSweep > 60_000) {
      // Full buckets carry no information; dropping them bounds memory by active users.
      for (const [k, b] of buckets)
        if (b.tokens + (t - b.at) * perMs >= perMinute) buckets.delete(k);
      lastSweep = t;
    }
    const key = ctx.state.user.id;
    const b = buckets.get(key) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
    buckets.set(key, b);
    if (b.tokens < 1) {
      const retryAfterSec = Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
      throw new RateLimitedError(
        `Rate limit of ${perMinute} requests per minute exceeded; retry after ${retryAfterSec} s`,
        retryAfterSec,
      );
    }
    b.tokens -= 1;
    await next();
  };
}
