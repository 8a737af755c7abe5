import Router from '@koa/router';
import type { ByteBudget } from '../concurrency/byte-budget';
import { NotFoundError, RequestValidationError } from '../errors';
import { requireUser } from '../http/auth';
import { jsonBody } from '../http/json-body';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import { PLAN_LIMITS } from './plan-definition';
import { trackingPlanInputSchema, trackingPlanSchema } from './tracking-plan.schemas';
import { toTrackingPlanJson, type TrackingPlanService } from './tracking-plan.service';

export interface TrackingPlanRoutesDeps {
  plans: TrackingPlanService;
  /** Bounds the bytes of large bodies handled at once (see body-budget.ts). */
  bodyBudget?: ByteBudget;
}

/** `/api/v1/tracking-plan`: the user's tracking plan, replaced whole by PUT. Bearer token only. */
export function trackingPlanRoutes({
  plans,
  bodyBudget,
}: TrackingPlanRoutesDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/tracking-plan' });
  router.use(requireUser());

  router.put('/', jsonBody(PLAN_LIMITS.maxBodyBytes, bodyBudget), async (ctx) => {
    refuseProtoEventName(ctx.request.body);
    const input = parseOrThrow(trackingPlanInputSchema, ctx.request.body);
    const stored = await plans.put(ctx.state.em, ctx.state.user, input);
    ctx.type = 'application/json';
    ctx.body = toTrackingPlanJson(stored);
  });

  router.get('/', async (ctx) => {
    const stored = await plans.current(ctx.state.em, ctx.state.user);
    if (!stored) throw new NotFoundError('No tracking plan yet; PUT one to /api/v1/tracking-plan');
    ctx.type = 'application/json';
    ctx.body = toTrackingPlanJson(stored);
  });

  return router;
}

/**
 * A parsed body may hold `__proto__` as an own key, which the schema's record would drop
 * without a word: refused here, so a plan never silently lacks a schema it was sent.
 */
function refuseProtoEventName(body: unknown): void {
  const events = (body as { events?: unknown } | null)?.events;
  if (
    events &&
    typeof events === 'object' &&
    Object.prototype.hasOwnProperty.call(events, '__proto__')
  ) {
    throw new RequestValidationError(
      'Request body is invalid: $.events.__proto__: is not an event name a plan can hold',
      [
        {
          path: '$.events.__proto__',
          message: 'is not an event name a plan can hold',
          code: 'custom',
        },
      ],
    );
  }
}

/** `/api/v1/tracking-plan` in the OpenAPI document. */
export const registerTrackingPlanRoutes: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'put',
    path: '/api/v1/tracking-plan',
    tags: ['tracking plan'],
    summary: 'Replace your tracking plan: the JSON Schema each event should have',
    description:
      'Compiles every schema (JSON Schema draft 2020-12) and stores the plan as the next version. ' +
      'Events accepted from then on are checked against it when processed; events accepted ' +
      'before keep the version they were accepted under, until reprocessed. A schema that does ' +
      'not compile answers 422 with the reason.',
    security: [{ [BEARER_AUTH]: [] }],
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: trackingPlanInputSchema } },
      },
    },
    responses: {
      200: jsonResponse('Stored: the plan now in force, with its new version', trackingPlanSchema),
      ...errorResponses(400, 401, 413, 415, 422, 500, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/v1/tracking-plan',
    tags: ['tracking plan'],
    summary: 'Read your tracking plan in force, with its version',
    security: [{ [BEARER_AUTH]: [] }],
    responses: {
      200: jsonResponse('The plan in force', trackingPlanSchema),
      ...errorResponses(401, 404, 500, 503),
    },
  });
};
