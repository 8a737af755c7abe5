import type { Middleware } from 'koa';

/**
 * CORS for the tracking routes, which web pages on any origin call (analytics.js). No cookies
 * are involved: the write key is in the body or the Authorization header, so any origin may
 * call, and preflights are answered here without reaching the routes.
 */
export function trackingCors(prefix: string): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(prefix)) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Content-Encoding');
      ctx.set('Access-Control-Max-Age', '86400');
      ctx.status = 204;
      return;
    }
    await next();
  };
}
