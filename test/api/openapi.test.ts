import type Router from '@koa/router';
import { compileErrors, validate } from '@readme/openapi-parser';
import type Koa from 'koa';
import { acceptedEventSchema, eventViewSchema } from '../../src/events/event.schemas';
import { errorBodySchema } from '../../src/http/error-handler';
import { healthSchema, readinessSchema } from '../../src/health/health.schemas';
import { writeKeySchema } from '../../src/users/write-key.routes';
import { Harness } from '../support/harness';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every `METHOD path` the app's routers serve, in OpenAPI's `{param}` syntax. */
function servedRoutes(app: Koa<any>): string[] {
  const routes = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router }).router;
    for (const layer of router?.stack ?? []) {
      for (const method of layer.methods) {
        // HEAD comes with every GET; OpenAPI leaves it implied.
        if (method === 'HEAD') continue;
        routes.add(`${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`);
      }
    }
  }
  return [...routes].sort();
}

/** Every `METHOD path` the document lists. */
function documentedRoutes(doc: any): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`),
    )
    .sort();
}

describe('GET /openapi.json', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(() => h.close());

  it('is a valid OpenAPI 3.1 document, served without auth', async () => {
    const res = await h.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.openapi).toBe('3.1.0');
    const result = await validate(res.body);
    if (!result.valid) throw new Error(compileErrors(result));
    expect(result.warnings).toEqual([]);
    expect(Object.keys(res.body.components.schemas).sort()).toEqual([
      'AcceptedBatch',
      'AcceptedEvent',
      'BatchInput',
      'BatchView',
      'ErrorBody',
      'EventInput',
      'EventList',
      'EventView',
      'Health',
      'Readiness',
      'TrackingPlan',
      'TrackingPlanInput',
      'Violation',
      'WriteKey',
    ]);
    expect(res.body.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    );
  });

  it('lists exactly the routes the app serves', async () => {
    const doc = (await h.request('GET', '/openapi.json')).body;
    const served = servedRoutes(h.app);
    expect(served).toEqual(
      expect.arrayContaining([
        'POST /api/v1/events',
        'POST /api/v1/events/batch',
        'GET /api/v1/events/{id}',
        'GET /api/v1/batches/{id}',
        'PUT /api/v1/tracking-plan',
        'GET /api/v1/tracking-plan',
        'GET /metrics',
        'POST /api/v1/write-key/rotate',
        'POST /v1/batch',
        'POST /v1/track',
        'GET /v1/projects/{writeKey}/settings',
      ]),
    );
    expect(documentedRoutes(doc)).toEqual(served);
  });

  it('documents the request body with the schema the route validates with', async () => {
    const doc = (await h.request('GET', '/openapi.json')).body;
    const post = doc.paths['/api/v1/events'].post;
    expect(post.security).toEqual([{ bearerAuth: [] }]);
    expect(post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/EventInput',
    });
    expect(doc.components.schemas.EventInput).toMatchObject({
      type: 'object',
      required: ['event_name', 'event_type'],
      additionalProperties: false,
      properties: {
        event_name: { type: 'string', minLength: 1, maxLength: 255 },
        event_type: { type: 'string', minLength: 1, maxLength: 255 },
      },
    });
    expect(Object.keys(post.responses).sort()).toEqual(
      ['200', '202', '400', '401', '413', '415', '422', '429', '500', '503'].sort(),
    );
  });

  it('says which key each route takes, and the limits of the tracking routes', async () => {
    const doc = (await h.request('GET', '/openapi.json')).body;
    expect(doc.paths['/api/v1/write-key/rotate'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/v1/track'].post.security).toEqual([
      { writeKeyBasic: [] },
      { bearerAuth: [] },
      {},
    ]);
    expect(doc.components.securitySchemes.writeKeyBasic.description).toMatch(
      /refused by every \/api\/v1 route/,
    );
    const batch = doc.paths['/v1/batch'].post;
    expect(batch.requestBody.content['application/json'].schema.properties.batch.maxItems).toBe(
      h.config.api.trackingBatchMaxMessages,
    );
    const settings = doc.paths['/v1/projects/{writeKey}/settings'].get;
    expect(settings.responses['200'].headers['Cache-Control']).toBeDefined();
  });

  it('describes the bodies the API really answers with', async () => {
    const user = await h.createUser();
    const accepted = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'page_view', event_type: 'engagement', payload: { page: '/' } },
    });
    expect(acceptedEventSchema.parse(accepted.body)).toEqual(accepted.body);
    await h.waitForEvent(user.token, accepted.body.event_id);
    const view = await h.request('GET', `/api/v1/events/${accepted.body.event_id}`, {
      token: user.token,
    });
    expect(eventViewSchema.parse(view.body)).toEqual(view.body);
    const invalid = await h.request('POST', '/api/v1/events', { token: user.token, body: {} });
    expect(invalid.status).toBe(422);
    expect(errorBodySchema.parse(invalid.body)).toEqual(invalid.body);
    expect(healthSchema.parse((await h.request('GET', '/health')).body)).toBeTruthy();
    expect(readinessSchema.parse((await h.request('GET', '/ready')).body)).toBeTruthy();
    const rotated = await h.request('POST', '/api/v1/write-key/rotate', { token: user.token });
    expect(writeKeySchema.parse(rotated.body)).toEqual(rotated.body);
  });
});

describe('GET /openapi.json with METRICS_ENABLED=false', () => {
  it('leaves out GET /metrics, as the app does', async () => {
    const h = await Harness.start({ env: { METRICS_ENABLED: 'false' }, noWorker: true });
    try {
      const doc = (await h.request('GET', '/openapi.json')).body;
      expect(documentedRoutes(doc)).not.toContain('GET /metrics');
      expect(documentedRoutes(doc)).toEqual(servedRoutes(h.app));
    } finally {
      await h.close();
    }
  });
});
