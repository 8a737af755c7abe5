import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { ByteBudget } from '../concurrency/byte-budget';
import { isUuid } from '../db/uuid';
import { NotFoundError } from '../errors';
import { requireUser } from '../http/auth';
import { jsonBody } from '../http/json-body';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import {
  acceptedBatchSchema,
  batchViewSchema,
  createBatchBodySchema,
  eventIdParamSchema,
  idempotencyKey,
} from './event.schemas';
import type { EventService } from './event.service';
import { toBatchView } from './event.view';
import { withBatchPayloadsAsSent } from './payload-as-sent';

export interface BatchRoutesDeps {
  events: EventService;
  limits: { batchMaxBodyBytes: number; batchMaxEvents: number };
  rateLimit: Middleware<AppState>;
  /** Bounds the bytes of large bodies handled at once (see body-budget.ts). */
  bodyBudget?: ByteBudget;
}

/** `POST /api/v1/events/batch` accepts a batch; `GET /api/v1/batches/:id` reads its progress. */
export function batchRoutes({
  events,
  limits,
  rateLimit,
  bodyBudget,
}: BatchRoutesDeps): Router<AppState> {
  const batchBodySchema = createBatchBodySchema(limits.batchMaxEvents);
  const router = new Router<AppState>({ prefix: '/api/v1' });
  router.use(requireUser(), rateLimit);

  router.post('/events/batch', jsonBody(limits.batchMaxBodyBytes, bodyBudget), async (ctx) => {
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

  router.get('/batches/:id', async (ctx) => {
    const id = ctx.params.id!;
    const found = isUuid(id) ? await events.findOwnBatch(ctx.state.em, ctx.state.user, id) : null;
    if (!found) throw new NotFoundError(`No batch with id ${JSON.stringify(id)}`);
    ctx.body = toBatchView(found.batch, found.events);
  });

  return router;
}

/** `POST /api/v1/events/batch` and `/api/v1/batches` in the OpenAPI document. */
export const registerBatchRoutes =
  (batchMaxEvents: number): RouteGroup =>
  (registry) => {
    registry.registerPath({
      method: 'post',
      path: '/api/v1/events/batch',
      tags: ['events'],
      summary: 'Accept a batch of events, processed by one workflow',
      security: [{ [BEARER_AUTH]: [] }],
      request: {
        headers: z.object({
          'Idempotency-Key': idempotencyKey.optional().meta({
            description:
              'Names the batch: a retry with the same key and events returns the original batch; ' +
              'with other events it is refused (422 idempotency_key_reused)',
          }),
        }),
        body: {
          required: true,
          content: { 'application/json': { schema: createBatchBodySchema(batchMaxEvents) } },
        },
      },
      responses: {
        200: jsonResponse(
          'Nothing new stored: a repeated Idempotency-Key (the original batch), or every event repeated a known idempotency key (the existing events, batch_id null)',
          acceptedBatchSchema,
        ),
        202: jsonResponse(
          'Stored; its workflow starts right after the answer',
          acceptedBatchSchema,
        ),
        ...errorResponses(400, 401, 413, 415, 422, 429, 500, 503),
      },
    });
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
