import Router from '@koa/router';
import { NotFoundError } from '../errors';
import { requireUser } from '../http/auth';
import { jsonBody } from '../http/json-body';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import { isUuid } from '../db/uuid';
import { createBatchBodySchema, createEventBodySchema } from './event.schemas';
import type { EventService } from './event.service';
import { toEventView } from './event.view';

export interface EventRoutesDeps {
  events: EventService;
  limits: { eventMaxBodyBytes: number; batchMaxBodyBytes: number; batchMaxEvents: number };
}

/** `/api/v1/events`: accept one event or a batch, read one back. */
export function eventRoutes({ events, limits }: EventRoutesDeps): Router<AppState> {
  const batchBodySchema = createBatchBodySchema(limits.batchMaxEvents);
  const router = new Router<AppState>({ prefix: '/api/v1/events' });
  router.use(requireUser());

  router.post('/batch', jsonBody(limits.batchMaxBodyBytes), async (ctx) => {
    const body = parseOrThrow(batchBodySchema, ctx.request.body);
    ctx.status = 202;
    ctx.body = await events.acceptBatch(ctx.state.em, ctx.state.user, body);
  });

  router.post('/', jsonBody(limits.eventMaxBodyBytes), async (ctx) => {
    const input = parseOrThrow(createEventBodySchema, ctx.request.body);
    ctx.status = 202;
    ctx.body = await events.accept(ctx.state.em, ctx.state.user, input);
  });

  router.get('/:id', async (ctx) => {
    const id = ctx.params.id!;
    const event = isUuid(id) ? await events.findOwn(ctx.state.em, ctx.state.user, id) : null;
    if (!event) throw new NotFoundError(`No event with id ${JSON.stringify(id)}`);
    ctx.body = toEventView(event);
  });

  return router;
}
