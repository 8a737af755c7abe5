import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
} from '@asteasolutions/zod-to-openapi';
import Router from '@koa/router';
import { z } from 'zod';
import { errorBodySchema } from './error-handler';
import type { AppState } from './state';

/*
 * The OpenAPI 3.1 document of the API, generated from the zod schemas the routes validate with,
 * so the request side cannot drift from the code. Response schemas sit beside the request ones
 * and give the response types; the API tests parse real responses with them, so they cannot
 * drift either. Each router's file registers its own paths (a `RouteGroup`), so a route and its
 * documentation change together; this module holds what they share.
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

/** Generates the OpenAPI 3.1 document of the given route groups. */
export function buildOpenApiDocument(groups: RouteGroup[]): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description:
      'The API token of a user (`npm run users:create`); its write key is refused here, since it is meant for web pages',
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
