import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyLookup } from '../users/key-lookup';
import type { User } from '../users/user.entity';

/** What middleware puts on `ctx.state` for the handlers after it. */
export interface AppState {
  /** This request's unit of work (a fork of the ORM's entity manager, made on first use). */
  em: EntityManager;
  /** Finds the user a request's key names; every route authenticates through it. */
  keys: KeyLookup;
  /** This request's id (`X-Request-Id`); set by `requestId`. */
  requestId: string;
  /** The authenticated user; set by `requireUser`. */
  user: User;
  /**
   * Charges the rate limit for a request of `events` events in all (the first is charged on
   * arrival); throws `RateLimitedError`. Set by the rate limiter, absent when it is off.
   */
  chargeEvents?: (events: number) => void;
}
