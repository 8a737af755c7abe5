import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { runInRequestContext } from '../request-context';
import type { AppState } from './state';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * What we accept from a client or load balancer as a request id: short and printable, so it is
 * safe in logs and headers. Anything else is replaced, not rejected: the id is for tracing only.
 */
const ACCEPTABLE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Gives each request an id, the caller's `X-Request-Id` when it sent a usable one, and returns
 * it in the response. Outermost, so every response carries it, errors included, and whatever
 * the request starts (its workflow) can read it.
 */
export function requestId(): Middleware<AppState> {
  return async (ctx, next) => {
    const given = ctx.get(REQUEST_ID_HEADER);
    const id = ACCEPTABLE.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.set(REQUEST_ID_HEADER, id);
    await runInRequestContext({ requestId: id }, next);
  };
}
