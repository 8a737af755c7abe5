import { randomUUID } from 'node:crypto';
import { eventListSchema, eventViewSchema } from '../../src/events/event.schemas';
import { trackingPlanSchema } from '../../src/tracking-plans/tracking-plan.schemas';
import { Harness } from '../support/harness';
import { sampleValue, waitForMetrics } from '../support/prometheus';
import { basicAuth, waitForFinishedEvents } from '../support/tracking';

let h: Harness;

beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

const checkoutSchema = {
  type: 'object',
  properties: {
    plan: { enum: ['free', 'pro'] },
    total: { type: 'number', minimum: 0 },
  },
  required: ['plan'],
};

const plan = (mode: string, extra: Record<string, unknown> = {}) => ({
  mode,
  events: { checkout: checkoutSchema, page_view: { type: 'object' } },
  ...extra,
});

async function putPlan(token: string, body: unknown): Promise<any> {
  const res = await h.request('PUT', '/api/v1/tracking-plan', { token, body });
  expect(res).toMatchObject({ status: 200 });
  return trackingPlanSchema.parse(res.body);
}

async function postEvent(token: string, eventName: string, payload: unknown): Promise<string> {
  const res = await h.request('POST', '/api/v1/events', {
    token,
    body: { event_name: eventName, event_type: 'commerce', payload },
  });
  expect(res.status).toBe(202);
  return res.body.event_id as string;
}

async function finished(token: string, eventId: string): Promise<any> {
  return eventViewSchema.parse(await h.waitForEvent(token, eventId));
}

describe('PUT and GET /api/v1/tracking-plan', () => {
  it('round trip: each PUT is the next version, GET answers the one in force as sent', async () => {
    const { token } = await h.createUser();
    expect(await h.request('GET', '/api/v1/tracking-plan', { token })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    const first = await putPlan(token, plan('enforce'));
    expect(first).toEqual({
      version: 1,
      mode: 'enforce',
      unplanned: 'allow',
      events: plan('enforce').events,
      created_at: expect.any(String),
    });
    const got = await h.request('GET', '/api/v1/tracking-plan', { token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(first);
    // The schemas come back in the order they were sent, not reordered by the database.
    expect(Object.keys(got.body.events.checkout.properties)).toEqual(['plan', 'total']);

    const second = await putPlan(token, { mode: 'report', unplanned: 'reject', events: {} });
    expect(second).toMatchObject({ version: 2, mode: 'report', unplanned: 'reject', events: {} });
    expect((await h.request('GET', '/api/v1/tracking-plan', { token })).body).toEqual(second);
  });

  it('takes only a Bearer token: a write key as Basic auth answers 401', async () => {
    const { token } = await h.createUser();
    for (const method of ['GET', 'PUT']) {
      const res = await h.request(method, '/api/v1/tracking-plan', {
        headers: { authorization: basicAuth(token) },
        body: method === 'PUT' ? plan('enforce') : undefined,
      });
      expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    }
  });

  it.each([
    [
      'an unknown mode',
      { mode: 'strict', events: {} },
      '$.mode',
      /must be one of off, report, enforce/,
    ],
    [
      'an unknown unplanned policy',
      { mode: 'report', unplanned: 'drop' },
      '$.unplanned',
      /allow, reject/,
    ],
    [
      'a schema that is not one',
      { mode: 'enforce', events: { a: { type: 'strin' } } },
      '$.events.a',
      /schema is invalid: data\/type/,
    ],
    [
      'an unknown keyword (a typo)',
      { mode: 'enforce', events: { a: { type: 'object', requird: ['x'] } } },
      '$.events.a',
      /unknown keyword: "requird"/,
    ],
    [
      'an unknown format',
      { mode: 'enforce', events: { a: { type: 'string', format: 'emial' } } },
      '$.events.a',
      /unknown format "emial"/,
    ],
    [
      'a remote $ref',
      { mode: 'enforce', events: { a: { $ref: 'https://schemas.example.com/a.json' } } },
      '$.events.a',
      /can't resolve reference/,
    ],
    [
      'another draft',
      { mode: 'enforce', events: { a: { $schema: 'http://json-schema.org/draft-07/schema#' } } },
      '$.events.a',
      /draft-07/,
    ],
    [
      'a pattern RE2 cannot run (lookahead)',
      { mode: 'enforce', events: { a: { type: 'string', pattern: '^(?=x)' } } },
      '$.events.a',
      /not RE2 syntax/,
    ],
    [
      'a pattern over 256 characters',
      { mode: 'enforce', events: { a: { properties: { s: { pattern: 'a'.repeat(257) } } } } },
      '$.events.a.properties.s.pattern',
      /at most 256 characters/,
    ],
    [
      'uniqueItems over items of any type',
      { mode: 'enforce', events: { a: { type: 'array', uniqueItems: true } } },
      '$.events.a.uniqueItems',
      /scalar "type"/,
    ],
    [
      'a schema nesting 33 levels',
      { mode: 'enforce', events: { a: nested(33) } },
      '$.events.a',
      /at most 32 levels/,
    ],
    [
      '201 event schemas',
      { mode: 'enforce', events: manySchemas(201) },
      '$.events',
      /at most 200 event schemas/,
    ],
    [
      'an event name with spaces around it',
      { mode: 'enforce', events: { ' a ': true } },
      '$.events. a ',
      /whitespace/,
    ],
    [
      'a schema that recurses without end',
      { mode: 'enforce', events: { a: { allOf: [{ $ref: '#' }] } } },
      '$.events.a',
      /recurses without end/,
    ],
    [
      '__proto__ as an event name',
      '{"mode":"enforce","events":{"__proto__":true}}',
      '$.events.__proto__',
      /not an event name/,
    ],
  ])(
    'answers 422 for %s, naming the path, and keeps the plan in force',
    async (_what, body, path, message) => {
      const { token } = await h.createUser();
      const kept = await putPlan(token, plan('report'));
      const res = await h.request('PUT', '/api/v1/tracking-plan', { token, body });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_error');
      expect(res.body.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ path, message: expect.stringMatching(message) }),
        ]),
      );
      expect((await h.request('GET', '/api/v1/tracking-plan', { token })).body).toEqual(kept);
    },
  );

  it('answers 413 for a body over 512 KB', async () => {
    const { token } = await h.createUser();
    const big = { mode: 'enforce', events: { a: { description: 'x'.repeat(600_000) } } };
    const res = await h.request('PUT', '/api/v1/tracking-plan', { token, body: big });
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });
});

function nested(levels: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 1; i < levels; i++) schema = { type: 'object', properties: { k: schema } };
  return schema;
}

function manySchemas(n: number): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`event_${i}`, true]));
}

describe('the plan in processing', () => {
  it('enforce: a violation fails the event, naming each violation by path and rule', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, plan('enforce'));
    const bad = await postEvent(token, 'checkout', { plan: 'gold', total: -3 });
    const good = await postEvent(token, 'checkout', { plan: 'pro', total: 42 });

    const failed = await finished(token, bad);
    expect(failed).toMatchObject({ status: 'failed', plan_version: version, properties: null });
    expect(failed.processing_error).toBe(
      `validation_error: tracking plan version ${version}: payload.plan: must be equal to one of the allowed values; payload.total: must be >= 0`,
    );
    expect(failed.violations).toEqual([
      { path: 'payload.plan', rule: 'enum', message: 'must be equal to one of the allowed values' },
      { path: 'payload.total', rule: 'minimum', message: 'must be >= 0' },
    ]);
    // The run records that the event broke its plan, and nothing of the payload or the plan.
    const result = await h.workflowResult(`event-${bad}`);
    expect(result).toEqual({
      status: 'validation_error',
      event_id: bad,
      error: `breaks tracking plan version ${version} (2 violations, listed on the event)`,
    });

    expect(await finished(token, good)).toMatchObject({
      status: 'processed',
      plan_version: version,
      violations: null,
      processing_error: null,
    });
  });

  it('enforce: a missing required property is named on the object that lacks it', async () => {
    const { token } = await h.createUser();
    await putPlan(token, plan('enforce'));
    const id = await postEvent(token, 'checkout', null);
    expect((await finished(token, id)).violations).toEqual([
      { path: 'payload', rule: 'required', message: "must have required property 'plan'" },
    ]);
  });

  it('report: the event is processed, its violations shown and found by a list filter', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, plan('report'));
    const bad = await postEvent(token, 'checkout', { plan: 'gold' });
    const good = await postEvent(token, 'checkout', { plan: 'free' });

    expect(await finished(token, bad)).toMatchObject({
      status: 'processed',
      plan_version: version,
      processing_error: null,
      properties: { original: { plan: 'gold' } },
      violations: [
        {
          path: 'payload.plan',
          rule: 'enum',
          message: 'must be equal to one of the allowed values',
        },
      ],
    });
    expect(await finished(token, good)).toMatchObject({ status: 'processed', violations: null });

    const withViolations = await h.request('GET', '/api/v1/events?has_violations=true', { token });
    expect(withViolations.status).toBe(200);
    const listed = eventListSchema.parse(withViolations.body).events;
    expect(listed.map((e) => e.id)).toEqual([bad]);
    expect(listed[0]!.violations).toHaveLength(1);
    const without = await h.request('GET', '/api/v1/events?has_violations=false', { token });
    expect(without.body.events.map((e: any) => e.id)).toEqual([good]);
    const wrong = await h.request('GET', '/api/v1/events?has_violations=maybe', { token });
    expect(wrong).toMatchObject({ status: 422, body: { error: { code: 'validation_error' } } });
  });

  it('unplanned "reject": an event whose name has no schema fails with the reason', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, plan('enforce', { unplanned: 'reject' }));
    const stray = await postEvent(token, 'coupon_applied', { code: 'X' });
    const planned = await postEvent(token, 'page_view', { page: '/' });
    const failed = await finished(token, stray);
    expect(failed).toMatchObject({ status: 'failed', plan_version: version });
    expect(failed.processing_error).toBe(
      `validation_error: tracking plan version ${version} has no schema for "coupon_applied", and rejects unplanned events`,
    );
    expect(failed.violations).toEqual([
      { path: 'event_name', rule: 'unplanned', message: expect.stringContaining('no schema for') },
    ]);
    expect((await finished(token, planned)).status).toBe('processed');

    // Allowed, the same event goes through.
    await putPlan(token, plan('enforce', { unplanned: 'allow' }));
    const allowed = await postEvent(token, 'coupon_applied', { code: 'X' });
    expect(await finished(token, allowed)).toMatchObject({ status: 'processed', violations: null });
  });

  it('off: nothing is checked, though the version is recorded', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, plan('off', { unplanned: 'reject' }));
    const id = await postEvent(token, 'checkout', { plan: 'gold' });
    expect(await finished(token, id)).toMatchObject({
      status: 'processed',
      plan_version: version,
      violations: null,
    });
  });

  it("another user's plan does not apply", async () => {
    const alice = await h.createUser();
    const bob = await h.createUser();
    await putPlan(alice.token, plan('enforce', { unplanned: 'reject' }));
    const id = await postEvent(bob.token, 'checkout', { plan: 'gold' });
    expect(await finished(bob.token, id)).toMatchObject({
      status: 'processed',
      plan_version: null,
      violations: null,
    });
  });

  it('a batch of 50 with 5 violators: 45 processed, 5 failed with their reasons', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, plan('enforce'));
    const violators = new Set([3, 11, 24, 37, 49]);
    const events = Array.from({ length: 50 }, (_, i) => ({
      event_name: 'checkout',
      event_type: 'commerce',
      payload: violators.has(i) ? { plan: `gold-${i}`, total: i } : { plan: 'pro', total: i },
    }));
    const res = await h.request('POST', '/api/v1/events/batch', { token, body: { events } });
    expect(res.status).toBe(202);
    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({ total_events: 50, processed: 45, failed: 5 });
    const reason = `validation_error: tracking plan version ${version}: payload.plan: must be equal to one of the allowed values`;
    expect(
      [...summary.results].sort((x: any, y: any) => (x.event_id < y.event_id ? -1 : 1)),
    ).toEqual(
      [...violators]
        .map((i) => res.body.event_ids[i] as string)
        .sort()
        .map((id) => ({ event_id: id, status: 'failed', error: reason })),
    );
    for (const i of [3, 4]) {
      const event = await finished(token, res.body.event_ids[i]);
      expect(event).toMatchObject(
        violators.has(i)
          ? {
              status: 'failed',
              processing_error: reason,
              violations: [{ path: 'payload.plan', rule: 'enum' }],
            }
          : { status: 'processed', violations: null, plan_version: version },
      );
    }
  });

  it('a batch in report mode: every event processed, the violators with their violations', async () => {
    const { token } = await h.createUser();
    await putPlan(token, plan('report'));
    const events = Array.from({ length: 6 }, (_, i) => ({
      event_name: 'checkout',
      event_type: 'commerce',
      payload: { plan: i % 2 ? 'gold' : 'pro' },
    }));
    const res = await h.request('POST', '/api/v1/events/batch', { token, body: { events } });
    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({ total_events: 6, processed: 6, failed: 0 });
    const listed = await h.request('GET', '/api/v1/events?has_violations=true', { token });
    expect(listed.body.events.map((e: any) => e.id).sort()).toEqual(
      [1, 3, 5].map((i) => res.body.event_ids[i]).sort(),
    );
  });

  it('tracking messages: the schema applies to properties or traits, paths say where', async () => {
    const { token } = await h.createUser();
    const { version } = await putPlan(token, {
      mode: 'enforce',
      events: {
        'Order Completed': checkoutSchema,
        identify: { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
      },
    });
    const anon = randomUUID();
    const message = (extra: Record<string, unknown>) => ({
      anonymousId: anon,
      messageId: randomUUID(),
      context: { library: { name: 'raw-http' } },
      ...extra,
    });
    const send = (path: string, body: unknown) =>
      h.request('POST', path, { headers: { authorization: basicAuth(token) }, body });
    expect(
      (await send('/v1/track', message({ event: 'Order Completed', properties: { plan: 'gold' } })))
        .status,
    ).toBe(200);
    expect(
      (await send('/v1/identify', message({ traits: { email: 'not an address' } }))).status,
    ).toBe(200);
    const batch = await send('/v1/batch', {
      batch: [
        message({ type: 'track', event: 'Order Completed', properties: { plan: 'pro', total: 1 } }),
        message({ type: 'track', event: 'Order Completed', properties: { total: 'ten' } }),
      ],
    });
    expect(batch.status).toBe(200);

    const events = await waitForFinishedEvents(h, token, { anonymous_id: anon }, 4);
    const byError = events.map((e) => [e.event_type, e.status, e.processing_error]).sort();
    expect(byError).toEqual(
      [
        [
          'identify',
          'failed',
          `validation_error: tracking plan version ${version}: payload.traits.email: must match format "email"`,
        ],
        [
          'track',
          'failed',
          `validation_error: tracking plan version ${version}: payload.properties.plan: must be equal to one of the allowed values`,
        ],
        [
          'track',
          'failed',
          `validation_error: tracking plan version ${version}: payload.properties: must have required property 'plan'; payload.properties.total: must be number`,
        ],
        ['track', 'processed', null],
      ].sort(),
    );
  });

  it('reprocess after fixing the plan recovers the failed events', async () => {
    const { token } = await h.createUser();
    const first = await putPlan(token, plan('enforce'));
    const single = await postEvent(token, 'checkout', { plan: 'enterprise' });
    const res = await h.request('POST', '/api/v1/events/batch', {
      token,
      body: {
        events: [
          { event_name: 'checkout', event_type: 'commerce', payload: { plan: 'enterprise' } },
          { event_name: 'checkout', event_type: 'commerce', payload: { plan: 'pro' } },
        ],
      },
    });
    expect(await h.workflowResult(res.body.workflow_id)).toMatchObject({ processed: 1, failed: 1 });
    const failedIds = [single, res.body.event_ids[0] as string];
    for (const id of failedIds) expect((await finished(token, id)).status).toBe('failed');

    // Reprocessed against the same plan, they fail again.
    const again = await h.request('POST', `/api/v1/events/${single}/reprocess`, { token });
    expect(again.status).toBe(202);
    expect(await finished(token, single)).toMatchObject({
      status: 'failed',
      plan_version: first.version,
    });

    // The plan learns the new value; reprocessing checks against it.
    const fixed = await putPlan(token, {
      mode: 'enforce',
      events: {
        checkout: {
          ...checkoutSchema,
          properties: {
            ...checkoutSchema.properties,
            plan: { enum: ['free', 'pro', 'enterprise'] },
          },
        },
      },
    });
    const listed = await h.request('GET', '/api/v1/events?status=failed&event_name=checkout', {
      token,
    });
    expect(listed.body.events.map((e: any) => e.id).sort()).toEqual([...failedIds].sort());
    for (const id of failedIds) {
      expect((await h.request('POST', `/api/v1/events/${id}/reprocess`, { token })).status).toBe(
        202,
      );
      expect(await finished(token, id)).toMatchObject({
        status: 'processed',
        plan_version: fixed.version,
        violations: null,
        processing_error: null,
        last_error: expect.stringContaining('must be equal to one of the allowed values'),
      });
    }
  });

  it('counts violations per event name in the worker metrics', async () => {
    const { token } = await h.createUser();
    await putPlan(token, {
      mode: 'enforce',
      unplanned: 'reject',
      events: { metered_checkout: checkoutSchema },
    });
    const failing = [
      await postEvent(token, 'metered_checkout', { plan: 'gold' }),
      await postEvent(token, 'metered_unplanned', {}),
    ];
    for (const id of failing) expect((await finished(token, id)).status).toBe('failed');
    await putPlan(token, { mode: 'report', events: { metered_checkout: checkoutSchema } });
    const reported = await postEvent(token, 'metered_checkout', { plan: 'gold' });
    expect((await finished(token, reported)).status).toBe('processed');

    await waitForMetrics(h.workerMetricsUrl!, (text) => {
      const count = (event_name: string, outcome: string) =>
        sampleValue(text, 'tracking_plan_violations_total', { event_name, outcome });
      expect(count('metered_checkout', 'failed')).toBe(1);
      expect(count('metered_unplanned', 'failed')).toBe(1);
      expect(count('metered_checkout', 'reported')).toBe(1);
    });
  });
});
