import Router from '@koa/router';
import { checkReadiness, type ReadinessCheck } from '../health/readiness';
import type { AppState } from './state';

export type { ReadinessCheck } from '../health/readiness';

/** `GET /health`: the process is alive. `GET /ready`: every dependency answers. */
export function healthRoutes(checks: ReadinessCheck[]): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const { ready, body } = await checkReadiness(checks);
    ctx.status = ready ? 200 : 503;
    ctx.body = body;
  });
  return router;
}
