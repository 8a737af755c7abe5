import Router from '@koa/router';
import { healthSchema, readinessSchema } from '../health/health.schemas';
import { checkReadiness, type ReadinessCheck } from '../health/readiness';
import { jsonResponse, type RouteGroup } from './openapi';
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

/** `GET /health`, `GET /ready` in the OpenAPI document. */
export const registerHealthRoutes: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'get',
    path: '/health',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    responses: { 200: jsonResponse('Alive', healthSchema) },
  });
  registry.registerPath({
    method: 'get',
    path: '/ready',
    tags: ['operations'],
    summary: 'Readiness: PostgreSQL and Temporal answer, and every migration is applied',
    responses: {
      200: jsonResponse('Every dependency answers', readinessSchema),
      503: jsonResponse('At least one dependency does not answer', readinessSchema),
    },
  });
};
