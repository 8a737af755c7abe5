import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import { NotFoundError, RequestValidationError } from '../errors';
import { requireUser } from '../http/auth';
import { jsonBody } from '../http/json-body';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import { isUuid } from '../db/uuid';
import {
  createBatchBodySchema,
  createEventBodySchema,
  idempotencyKey,
  listEventsQuerySchema,
  type CreateEventBody,
} from './event.schemas';
import type { EventService } from './event.service';
import { withBatchPayloadsAsSent, withPayloadAsSent } from './payload-as-sent';
import { toEventViewJson } from './event.view';

export interface EventRoutesDeps {
  events: EventService;
  limits: { eventMaxBodyBytes: number; batchMaxBodyBytes: number; batchMaxEvents: number };
  rateLimit: Middleware<AppState>;
  /** Bounds the bytes of large bodies handled at once (see body-budget.ts). */
  bodyBudget?: ByteBudget;
}

/** `/api/v1/events`: accept one event or a batch, read one back. */
export function eventRoutes({
  events,
  limits,
  rateLimit,
  bodyBudget,
}: EventRoutesDeps): Router<AppState> {
  const batchBodySchema = createBatchBodySchema(limits.batchMaxEvents);
  const router = new Router<AppState>({ prefix: '/api/v1/events' });
  router.use(requireUser(), rateLimit);

  router.post('/batch', jsonBody(limits.batchMaxBodyBytes, bodyBudget), async (ctx) => {
    const body = withBatchPayloadsAsSent(
      parseOrThrow(batchBodySchema, ctx.request.body),
      ctx.request.body,
    );
    // The rate limit is in events: the rest of the batch is charged before anything is stored.
    ctx.state.chargeEvents?.(body.events.length);
    const header = ctx.get('idempotency-key');
    const key =
      header === '' ? undefined : parseOrThrow(idempotencyKey, header, 'Idempotency-Key header');
    const { created, batch } = await events.acceptBatch(ctx.state.em, ctx.state.user, body, key);
    // Like a repeated single event: 200 when nothing new was stored (a repeated batch key, or
    // every event's key known already).
    ctx.status = created > 0 ? 202 : 200;
    ctx.body = batch;
  });

  router.post('/', jsonBody(limits.eventMaxBodyBytes, bodyBudget), async (ctx) => {
    const body = withHeaderKey(
      withPayloadAsSent(parseOrThrow(createEventBodySchema, ctx.request.body), ctx.request.body),
      ctx.get('idempotency-key'),
    );
    const { created, event } = await events.accept(ctx.state.em, ctx.state.user, body);
    // A repeated idempotency key is answered like the first time, but as "already here".
    ctx.status = created ? 202 : 200;
    ctx.body = event;
  });

  router.get('/', async (ctx) => {
    const query = parseOrThrow(listEventsQuerySchema, ctx.query, 'Query');
    const { events: page, nextCursor } = await events.list(ctx.state.em, ctx.state.user, query);
    ctx.body = { events: page, next_cursor: nextCursor };
  });

  router.post('/:id/reprocess', async (ctx) => {
    const id = ctx.params.id!;
    const result = isUuid(id) ? await events.reprocess(ctx.state.em, ctx.state.user, id) : null;
    if (!result) throw new NotFoundError(`No event with id ${JSON.stringify(id)}`);
    ctx.status = result.started ? 202 : 200;
    ctx.body = result.event;
  });

  router.get('/:id', async (ctx) => {
    const id = ctx.params.id!;
    const found = isUuid(id) ? await events.findOwn(ctx.state.em, ctx.state.user, id) : null;
    if (!found) throw new NotFoundError(`No event with id ${JSON.stringify(id)}`);
    ctx.type = 'application/json';
    ctx.body = toEventViewJson(found.event, found.payloadJson, found.propertiesJson);
  });

  return router;
}

/** Merges the `Idempotency-Key` header into the body; both may be given only if they agree. */
function withHeaderKey(body: CreateEventBody, header: string): CreateEventBody {
  if (header === '') return body;
  const key = parseOrThrow(idempotencyKey, header, 'Idempotency-Key header');
  if (body.idempotency_key !== undefined && body.idempotency_key !== key) {
    throw new RequestValidationError(
      "The Idempotency-Key header and the body's idempotency_key differ; send one, or the same",
      [
        {
          path: '$.idempotency_key',
          message: 'differs from the Idempotency-Key header',
          code: 'custom',
        },
      ],
    );
  }
  return { ...body, idempotency_key: key };
}
