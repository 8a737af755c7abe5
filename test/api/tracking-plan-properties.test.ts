import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Harness } from '../support/harness';
import { payloadModel, propertyParams, toText } from '../support/properties';
import { basicAuth } from '../support/tracking';

/**
 * Any JSON payload against any plan: no answer is a 5xx (a plan that does not compile is a
 * 422), and every accepted event settles, processed or failed with a validation error, whatever
 * the schemas (hostile patterns and deep combinators included) and the payloads (big integers,
 * `__proto__` keys, large strings) meet.
 */
let h: Harness;
let user: { id: string; token: string };
const accepted: string[] = [];
/** What the runs met, so a generator that stopped producing compilable plans fails the test. */
const seen = { compiled: 0, refused: 0 };

beforeAll(async () => {
  h = await Harness.start();
  user = await h.createUser();
});
afterAll(() => h.close());

const NAMES = ['a', 'b', 'c', 'd'];

/** JSON Schemas of every keyword family, compilable or not, benign or hostile. */
const { schema } = fc.letrec<{ schema: unknown; object: Record<string, unknown> }>((tie) => ({
  schema: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.boolean(), tie('object')),
  object: fc.oneof(
    { depthSize: 'small' },
    fc.record(
      {
        type: fc.constantFrom('object', 'string', 'number', 'integer', 'boolean', 'null', 'array'),
        minimum: fc.integer({ min: -10, max: 10 }),
        maxLength: fc.nat(20),
        // Catastrophic for a backtracking engine: (a+)+$ and (a|a)*$ below.
        pattern: fc.constantFrom('^[a-z]+$', '(a+)+$', '\\u00e9', '^.*$', '\\d{3}', '(x|x)*y'),
        format: fc.constantFrom('email', 'date-time', 'uri', 'uuid', 'ipv4', 'regex'),
        enum: fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.constant(null)), {
          minLength: 1,
          maxLength: 4,
        }),
        const: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()),
        required: fc.uniqueArray(fc.constantFrom('k', 'plan', 'n', '__proto__'), { maxLength: 3 }),
        additionalProperties: fc.oneof(fc.boolean(), tie('schema')),
        properties: fc.dictionary(fc.constantFrom('k', 'plan', 'n', 'big', ''), tie('schema'), {
          maxKeys: 3,
        }),
        patternProperties: fc.dictionary(fc.constantFrom('^x', '(a|a)*$', '.'), tie('schema'), {
          maxKeys: 2,
        }),
        items: tie('schema'),
        uniqueItems: fc.constantFrom(false, false, false, true),
        anyOf: fc.array(tie('schema'), { minLength: 1, maxLength: 3 }),
        not: tie('schema'),
      },
      { requiredKeys: [] },
    ),
    // What does not compile: a typo, a lookahead, a bad pattern, an unknown format.
    fc.constantFrom(
      { requird: ['k'] },
      { pattern: '^(?=x)' },
      { pattern: '[' },
      { format: 'emial' },
    ),
    fc.constant({ $ref: '#/$defs/x', $defs: { x: { type: 'object' } } }),
    fc.constant({ $ref: 'https://schemas.example.com/remote.json' }),
    // Recursion without end: on every value (refused at PUT), or only on strings.
    fc.constant({ allOf: [{ $ref: '#' }] }),
    fc.constant({ if: { type: 'string' }, then: { $ref: '#' } }),
  ),
}));

const planArb = fc.record({
  mode: fc.constantFrom('off', 'report', 'enforce', 'enforce', 'strict'),
  unplanned: fc.constantFrom('allow', 'reject'),
  events: fc.dictionary(fc.constantFrom(...NAMES), schema, { maxKeys: 3 }),
});

/** An event of any name, planned or not, with any payload within the payload rules. */
const eventArb = fc.record({ name: fc.constantFrom(...NAMES, 'unplanned'), payload: payloadModel });

const eventText = (e: { name: string; payload: Parameters<typeof toText>[0] }) =>
  `{"event_name":${JSON.stringify(e.name)},"event_type":"prop","payload":${toText(e.payload)}}`;

async function send(method: string, path: string, body?: string, auth = `Bearer ${user.token}`) {
  const res = await fetch(h.baseUrl + path, {
    method,
    headers: {
      authorization: auth,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body,
  });
  const text = await res.text();
  expect({
    path,
    status: res.status < 500 ? 'not 5xx' : res.status,
    text: res.status < 500 ? '' : text,
  }).toEqual({
    path,
    status: 'not 5xx',
    text: '',
  });
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

it('any payload against any plan: no 5xx, and every event settles', async () => {
  await fc.assert(
    fc.asyncProperty(
      planArb,
      fc.array(eventArb, { minLength: 1, maxLength: 5 }),
      eventArb,
      async (plan, batch, single) => {
        const put = await send('PUT', '/api/v1/tracking-plan', JSON.stringify(plan));
        expect([200, 422]).toContain(put.status);
        seen[put.status === 200 ? 'compiled' : 'refused'] += 1;
        const res = await send(
          'POST',
          '/api/v1/events/batch',
          `{"events":[${batch.map(eventText).join(',')}]}`,
        );
        expect(res.status).toBe(202);
        accepted.push(...(res.body.event_ids as string[]));
        const one = await send('POST', '/api/v1/events', eventText(single));
        expect(one.status).toBe(202);
        accepted.push(one.body.event_id as string);
        // The same payload as a tracking message's properties, when it is an object.
        const anonymousId = randomUUID();
        const track = `{"event":${JSON.stringify(single.name)},"anonymousId":"${anonymousId}","properties":${toText(single.payload)}}`;
        expect((await send('POST', '/v1/track', track, basicAuth(user.token))).status).toBe(200);
        const listed = await send('GET', `/api/v1/events?anonymous_id=${anonymousId}`);
        accepted.push(...listed.body.events.map((e: { id: string }) => e.id));
      },
    ),
    propertyParams(25),
  );

  const outcomes = { processed: 0, failedByPlan: 0, failedByRules: 0 };
  for (const id of accepted) {
    const event = await h.waitForEvent(user.token, id, ['processed', 'failed'], 120_000);
    if (event.status === 'processed') outcomes.processed += 1;
    else if (/tracking plan version/.test(event.processing_error)) outcomes.failedByPlan += 1;
    else outcomes.failedByRules += 1;
    // Failed only as a validation error: nothing a plan holds breaks the worker.
    expect({
      id,
      settled: event.status === 'processed' || /^validation_error: /.test(event.processing_error),
    }).toEqual({
      id,
      settled: true,
    });
  }
  if (process.env.FC_VERBOSE) console.log({ ...seen, ...outcomes });
  expect(seen.compiled).toBeGreaterThan(0);
  expect(seen.refused).toBeGreaterThan(0);
  expect(outcomes.processed).toBeGreaterThan(0);
  expect(outcomes.failedByPlan).toBeGreaterThan(0);
});
