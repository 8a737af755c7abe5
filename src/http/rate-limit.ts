import type { Middleware } from 'koa';
import { RateLimitedError } from '../errors';
import type { AppState } from './state';

/**
 * Per-user token bucket in events: `perMinute` events a minute, with bursts up to that many.
 * Every request costs one on arrival; a route that accepts several events charges the rest
 * through `ctx.state.chargeEvents` once it knows how many (a batch of 500 costs 500). A batch
 * larger than a minute's allowance passes only from a full bucket and leaves it in debt, so
 * the limit holds on average. Kept in process memory, so with N API processes a user gets up
 * to N times the rate; a shared limit belongs in front of the API (a gateway) if that matters.
 * `perMinute` 0 turns it off.
 */
export function rateLimitPerUser(
  perMinute: number,
  now: () => number = Date.now,
): Middleware<AppState> {
  if (perMinute <= 0) return (_ctx, next) => next();
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();

  /**
   * Takes `events` from the user's bucket, `paid` of them already taken, or throws 429 saying
   * when they would be there (what was paid stays paid: the request did arrive).
   */
  function take(key: string, events: number, paid = 0): void {
    const t = now();
    if (t - lastSweep > 60_000) {
      // Full buckets carry no information; dropping them bounds memory by active users.
      for (const [k, b] of buckets)
        if (b.tokens + (t - b.at) * perMs >= perMinute) buckets.delete(k);
      lastSweep = t;
    }
    const b = buckets.get(key) ?? { tokens: perMinute, at: t };
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
    buckets.set(key, b);
    const available = b.tokens + paid;
    const needed = Math.min(events, perMinute);
    if (available < needed) {
      const retryAfterSec = Math.max(1, Math.ceil((needed - available) / perMs / 1000));
      throw new RateLimitedError(
        `Rate limit of ${perMinute} events per minute exceeded; retry after ${retryAfterSec} s`,
        retryAfterSec,
      );
    }
    b.tokens = available - events;
  }

  return async (ctx, next) => {
    const key = ctx.state.user.id;
    take(key, 1);
    ctx.state.chargeEvents = (events) => {
      if (events > 1) take(key, events, 1);
    };
    await next();
  };
}
