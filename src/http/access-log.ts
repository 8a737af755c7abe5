import type { Middleware } from 'koa';
import type { Logger } from '../logger';
import { routePattern } from './metrics';
import type { AppState } from './state';

/**
 * One JSON line per request once it is answered: method, route pattern (not the path, which
 * holds ids), status, duration, request id, user id and client address. Never headers or bodies,
 * so neither tokens nor payloads reach the logs.
 */
export function accessLog(logger: Logger): Middleware<AppState> {
  const log = logger.child({ component: 'access' });
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      log.info(
        {
          method: ctx.method,
          route: routePattern(ctx),
          status: ctx.status,
          duration_ms: Number(process.hrtime.bigint() - started) / 1e6,
          request_id: ctx.state.requestId,
          user_id: (ctx.state.user as AppState['user'] | undefined)?.id ?? null,
          client_ip: ctx.ip,
        },
        'request',
      );
    }
  };
}
