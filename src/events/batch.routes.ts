import Router from '@koa/router';
import type { Middleware } from 'koa';
import { isUuid } from '../db/uuid';
import { NotFoundError } from '../errors';
import { requireUser } from '../http/auth';
import type { AppState } from '../http/state';
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
