import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { ByteBudget } from '../concurrency/byte-budget';
import { NotFoundError, RequestValidationError } from '../errors';
import { requireUser } from '../http/auth';
import { jsonBody } from '../http/json-body';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import { isUuid } from '../db/uuid';
import {
  acceptedEventSchema,
  createEventBodySchema,
  eventIdParamSchema,
  eventListSchema,
  eventViewSchema,
  idempotencyKey,
  listEventsQuerySchema,
  type CreateEventBody,
} from './event.schemas';
import type { EventService } from './event.service';
import { withPayloadAsSent } from './payload-as-sent';
import { toEventViewJson } from './event.view';

export interface EventRoutesDeps {
  events: EventService;
  limits: { eventMaxBodyBytes: number };
  rateLimit: Middleware<AppState>;
  /** Bounds the bytes of large bodies handled at once (see body-budget.ts). */
  bodyBudget?: ByteBudget;
}

/** `/api/v1/events`: accept one event, list them, read or reprocess one. */
export function eventRoutes({
  events,
  limits,
  rateLimit,
  bodyBudget,
}: EventRoutesDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/events' });
  router.use(requireUser(), rateLimit);

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

/** `/api/v1/events` in the OpenAPI document. */
export const registerEventRoutes: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'post',
    path: '/api/v1/events',
    tags: ['events'],
    summary: 'Accept one event for processing',
    description:
      'Answers once the event is stored; its workflow starts right after. Processing goes on ' +
      'in the background; GET the event to see its status.',
    security: [{ [BEARER_AUTH]: [] }],
    request: {
      headers: z.object({
        'Idempotency-Key': idempotencyKey.optional().meta({
          description: 'Same as the body field idempotency_key; both may be sent if equal',
        }),
      }),
      body: {
        required: true,
        content: { 'application/json': { schema: createEventBodySchema } },
      },
    },
    responses: {
      200: jsonResponse('A repeated idempotency key: the original event', acceptedEventSchema),
      202: jsonResponse(
        'Stored (status received); its workflow starts right after the answer',
        acceptedEventSchema,
      ),
      ...errorResponses(400, 401, 413, 415, 422, 429, 500, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/events',
    tags: ['events'],
    summary: 'List your events, newest first, e.g. the failed ones to recover',
    security: [{ [BEARER_AUTH]: [] }],
    request: { query: listEventsQuerySchema },
    responses: {
      200: jsonResponse('A page of events', eventListSchema),
      ...errorResponses(401, 422, 429, 500, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/api/v1/events/{id}/reprocess',
    tags: ['events'],
    summary: 'Start a new processing run of a failed event, or of one whose run is gone',
    description:
      'Accepts a failed event, and a received, queued or processing one whose workflow run ' +
      'is closed (terminated, timed out) or was never started. Earlier runs stay visible in ' +
      'Temporal under the same workflow id, and the event keeps its attempt count and last ' +
      'error. Idempotent while a run is going on.',
    security: [{ [BEARER_AUTH]: [] }],
    request: { params: z.object({ id: eventIdParamSchema }) },
    responses: {
      200: jsonResponse('A run is already going on: nothing new started', acceptedEventSchema),
      202: jsonResponse('A new run started', acceptedEventSchema),
      ...errorResponses(401, 404, 409, 429, 500, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/events/{id}',
    tags: ['events'],
    summary: 'Read one of your events with its processing state',
    security: [{ [BEARER_AUTH]: [] }],
    request: { params: z.object({ id: eventIdParamSchema }) },
    responses: {
      200: jsonResponse('The event', eventViewSchema),
      ...errorResponses(401, 404, 429, 500, 503),
    },
  });
};
