import Router from '@koa/router';
import { checkReadiness, type ReadinessCheck } from '../health/readiness';
import type { AppState } from './state';

export type { ReadinessCheck } from '../health/readiness';

/**
 * `GET /health`: the process is alive. `GET /ready`: every dependency answers; when one does
 * not, `reasons` says why in a short phrase (codes and names, never addresses or SQL).
 * `describe` adds figures an operator wants beside the verdict.
 */
export function healthRoutes(
  checks: ReadinessCheck[],
  describe: () => Record<string, unknown> = () => ({}),
): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const { ready, body } = await checkReadiness(checks);
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = { ...body, ...describe() };
  });
  return router;
}
