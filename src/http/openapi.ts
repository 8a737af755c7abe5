import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
} from '@asteasolutions/zod-to-openapi';
import Router from '@koa/router';
import { z } from 'zod';
import {
  acceptedBatchSchema,
  acceptedEventSchema,
  batchViewSchema,
  createBatchBodySchema,
  createEventBodySchema,
  eventIdParamSchema,
  eventListSchema,
  eventViewSchema,
  idempotencyKey,
  listEventsQuerySchema,
} from '../events/event.schemas';
import { registerTrackingRoutes } from '../tracking/tracking.openapi';
import { errorBodySchema } from './error-handler';
import type { AppState } from './state';

/*
 * The OpenAPI 3.1 document of the API, generated from the zod schemas the routes validate with,
 * so the request side cannot drift from the code. Response schemas sit beside the request ones
 * and give the response types; the API tests parse real responses with them, so they cannot
 * drift either.
 *
 * Schemas get their component name from zod's `.meta({ id })`. That registers them in zod's
 * global registry, where an id may be used once, so they are built once, at module level.
 */

/** The generated document (an OpenAPI 3.1 object). */
export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** A route group: registers the paths (and any schemas) of one router. */
export type RouteGroup = (registry: OpenAPIRegistry) => void;

/** Name of the security scheme of the user API tokens; use it in `security` of new paths. */
export const BEARER_AUTH = 'bearerAuth';
const METRICS_TOKEN_AUTH = 'metricsToken';

/** `GET /health`. */
export const healthSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });

/** `GET /ready`, with 200 and 503 alike. */
export const readinessSchema = z
  .strictObject({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(z.string(), z.enum(['ok', 'unavailable'])),
    backlog: z
      .strictObject({
        unstarted: z.int().meta({ description: 'Events stored whose workflow has not started' }),
        oldest_age_sec: z.number().meta({ description: 'Age of the oldest of them' }),
        in_flight: z.int().meta({
          description: 'Single-event workflows Temporal holds (bounded by OUTBOX_MAX_IN_FLIGHT)',
        }),
      })
      .meta({ description: 'Shown, not judged: a backlog drains on its own' }),
    /** Why each unavailable dependency is, e.g. "database error: ECONNREFUSED"; when not ready. */
    reasons: z.record(z.string(), z.string()).optional(),
  })
  .meta({ id: 'Readiness' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid_json: the body is empty, not UTF-8, or not valid JSON',
  401: 'unauthorized: the token is missing, malformed or unknown',
  404: 'not_found: no such route, or no such resource of yours',
  409: 'conflict: the request does not fit the resource state (e.g. reprocessing a processed event)',
  413: 'payload_too_large: the body is over the limit (the message names it)',
  415: 'unsupported_media_type: the body is not application/json',
  422: 'validation_error: the body breaks the schema; details lists each issue. idempotency_key_reused: a key was used before with a different body',
  429: 'rate_limited: too many requests; see Retry-After',
  500: 'internal_error',
  503: 'service_unavailable: a dependency (the database, Temporal) cannot serve the request right now; backlog_full: more events wait to be processed than ADMISSION_MAX_BACKLOG. See Retry-After',
};

/** A JSON response with `schema`. */
export function jsonResponse(description: string, schema: z.ZodType): ResponseConfig {
  return { description, content: { 'application/json': { schema } } };
}

/** Error responses for the given statuses, each with the shared error body. */
export function errorResponses(...statuses: number[]): Record<number, ResponseConfig> {
  return Object.fromEntries(
    statuses.map((s) => [s, jsonResponse(ERROR_DESCRIPTIONS[s] ?? 'error', errorBodySchema)]),
  );
}

/** `GET /health`, `GET /ready` (see `http/health.routes.ts`). */
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

/** `/api/v1/events` and `/api/v1/batches` (see `events/event.routes.ts`, `batch.routes.ts`). */
export const registerEventRoutes =
  (batchMaxEvents: number): RouteGroup =>
  (registry) => {
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

/** `GET /openapi.json`: this document. */
export const registerOpenApiRoute: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags: ['operations'],
    summary: 'This OpenAPI document',
    responses: {
      200: jsonResponse('OpenAPI 3.1 document', z.record(z.string(), z.unknown())),
    },
  });
};

/** `GET /metrics` (see `http/metrics.ts`); present unless METRICS_ENABLED is false. */
export const registerMetricsRoute: RouteGroup = (registry) => {
  registry.registerComponent('securitySchemes', METRICS_TOKEN_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN; required only when the service is configured with one',
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics of this API process',
    security: [{}, { [METRICS_TOKEN_AUTH]: [] }],
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...errorResponses(401),
    },
  });
};

/**
 * Every route group of the API. A new router gets a `RouteGroup` above and an entry here; the
 * OpenAPI test fails until every route the app serves is in the document.
 */
export function apiRouteGroups(options: {
  metricsEnabled: boolean;
  batchMaxEvents: number;
}): RouteGroup[] {
  return [
    registerHealthRoutes,
    registerEventRoutes(options.batchMaxEvents),
    registerTrackingRoutes,
    registerOpenApiRoute,
    ...(options.metricsEnabled ? [registerMetricsRoute] : []),
  ];
}

/** Generates the OpenAPI 3.1 document of the given route groups. */
export function buildOpenApiDocument(groups: RouteGroup[]): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'The API token of a user (`npm run users:create`)',
  });
  for (const register of groups) register(registry);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Event ingestion API',
      version: '1.0.0',
      description:
        'Clients send product events; each is stored in PostgreSQL and processed by a Temporal ' +
        'workflow. Every error is `{"error": {"code", "message", "details"?}}`.',
    },
  });
}

/** `GET /openapi.json`, serving a document built once. */
export function openApiRoutes(document: OpenApiDocument): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/openapi.json', (ctx) => {
    ctx.body = document;
  });
  return router;
}
