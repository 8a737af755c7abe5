import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { isUuid } from '../db/uuid';
import { NotFoundError } from '../errors';
import { requireUser } from '../http/auth';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import type { AppState } from '../http/state';
import { batchViewSchema, eventIdParamSchema } from './event.schemas';
import type { EventService } from './event.service';
import { toBatchView } from './event.view';

/** `/api/v1/batches`: read a batch's progress. */
export function batchRoutes({
  events,
  rateLimit,
}: {
  events: EventService;
  rateLimit: Middleware<AppState>;
}): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/batches' });
  router.use(requireUser(), rateLimit);

  router.get('/:id', async (ctx) => {
    const id = ctx.params.id!;
    const found = isUuid(id) ? await events.findOwnBatch(ctx.state.em, ctx.state.user, id) : null;
    if (!found) throw new NotFoundError(`No batch with id ${JSON.stringify(id)}`);
    ctx.body = toBatchView(found.batch, found.events);
  });

  return router;
}

/** `/api/v1/batches` in the OpenAPI document. */
export const registerBatchRoutes: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'get',
    path: '/api/v1/batches/{id}',
    tags: ['events'],
    summary: "Read one of your batches: its events' ids and counts by status",
    security: [{ [BEARER_AUTH]: [] }],
    request: { params: z.object({ id: eventIdParamSchema }) },
    responses: {
      200: jsonResponse('The batch', batchViewSchema),
      ...errorResponses(401, 404, 429, 500, 503),
    },
  });
};
