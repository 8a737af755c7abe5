import fc from 'fast-check';
import { normalizeValue } from '../../activities/payload-normalization';
import { parseExactly } from '../../src/json/exact-json';
import { Harness } from '../support/harness';
import {
  canonical,
  expectedValue,
  jsonModel,
  payloadModel,
  propertyParams,
  storableString,
  toText,
  type JsonModel,
} from '../support/properties';

/**
 * Properties of the API for any JSON: payloads within the rules come back exactly as sent,
 * from GET and in `properties.original` once processed; values outside them are refused with
 * a 4xx naming the problem and store nothing; and no request at all answers 5xx.
 */
let h: Harness;
let alice: { id: string; token: string };
/** Events accepted by the properties, checked once processed. */
const accepted: { id: string; model: JsonModel }[] = [];

beforeAll(async () => {
  h = await Harness.start();
  alice = await h.createUser();
});
afterAll(() => h.close());

/** A request with a raw body; the answer's body parsed exactly (integers past 2^53 as digits). */
async function send(
  method: string,
  path: string,
  opts: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; type: string | null; body: any }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(h.baseUrl + path, { method, headers, body: opts.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? parseExactly(text) : undefined;
  } catch {
    // Not JSON: kept as text for the assertion to show.
  }
  return { status: res.status, type: res.headers.get('content-type'), body };
}

const eventText = (m: JsonModel) =>
  `{"event_name":"prop","event_type":"json","payload":${toText(m)}}`;

async function expectStoredAsSent(id: string, m: JsonModel): Promise<void> {
  const got = await send('GET', `/api/v1/events/${id}`, { token: alice.token });
  expect(got.status).toBe(200);
  expect(canonical(got.body.payload)).toEqual(canonical(expectedValue(m)));
}

describe('payloads within the rules', () => {
  it('POST then GET returns the payload as sent', async () => {
    await fc.assert(
      fc.asyncProperty(payloadModel, async (m) => {
        const res = await send('POST', '/api/v1/events', {
          token: alice.token,
          body: eventText(m),
        });
        expect(res.status).toBe(202);
        await expectStoredAsSent(res.body.event_id, m);
        accepted.push({ id: res.body.event_id, model: m });
      }),
      propertyParams(200),
    );
  });

  it('a batch then GET returns each payload as sent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(payloadModel, { minLength: 1, maxLength: 8 }), async (models) => {
        const body = `{"events":[${models.map(eventText).join(',')}]}`;
        const res = await send('POST', '/api/v1/events/batch', { token: alice.token, body });
        expect(res.status).toBe(202);
        expect(res.body.event_ids).toHaveLength(models.length);
        for (const [i, m] of models.entries()) {
          await expectStoredAsSent(res.body.event_ids[i], m);
          accepted.push({ id: res.body.event_ids[i], model: m });
        }
      }),
      propertyParams(50),
    );
  });

  it('processing keeps them: properties.original is the payload, normalized is its normal form', async () => {
    for (const { id, model } of accepted) {
      const event = await h.waitForEvent(alice.token, id, ['processed', 'failed'], 120_000);
      const got = await send('GET', `/api/v1/events/${id}`, { token: alice.token });
      expect({ id, status: event.status, error: event.processing_error }).toEqual({
        id,
        status: 'processed',
        error: null,
      });
      const expected = expectedValue(model);
      expect(canonical(got.body.properties.original)).toEqual(canonical(expected));
      expect(canonical(got.body.properties.normalized)).toEqual(
        canonical(normalizeValue(expected)),
      );
    }
  });
});

/** A value the edge refuses, and what the error must name. */
const invalidValue: fc.Arbitrary<{ text: string; names: RegExp }> = fc.oneof(
  storableString(8).map((s) => ({ text: JSON.stringify(`${s}\u0000`), names: /NUL/ })),
  storableString(8).map((s) => ({ text: JSON.stringify(`${s}\ud800`), names: /surrogate/ })),
  storableString(8).map((s) => ({
    text: `{${JSON.stringify(`\udc00${s}`)}:1}`,
    names: /key .*surrogate/,
  })),
  fc.constantFrom('1e400', '-1e999').map((text) => ({ text, names: /out of range/ })),
  fc
    .integer({ min: 65, max: 200 })
    .map((n) => ({ text: `${'['.repeat(n)}${']'.repeat(n)}`, names: /nesting deeper/ })),
);

/** Puts `bad` somewhere in a valid payload. */
const payloadWithInvalid = fc
  .tuple(jsonModel(3), invalidValue, fc.constantFrom('top', 'nested', 'array'))
  .map(([m, bad, where]) => {
    const valid = toText(m);
    const text =
      where === 'top'
        ? `{"x":${bad.text},"v":${valid}}`
        : where === 'nested'
          ? `{"v":${valid},"a":{"b":${bad.text}}}`
          : `{"a":[${valid},${bad.text}]}`;
    return { text, names: bad.names };
  });

/** A request body the schema refuses, and what the error must name. */
const invalidEnvelope: fc.Arbitrary<{ text: string; names: RegExp }> = fc.oneof(
  fc
    .constantFrom('[]', '"s"', '1', 'true', '[1,2]')
    .map((p) => ({ text: `{"event_name":"a","event_type":"b","payload":${p}}`, names: /payload/ })),
  // Anything but a string: a string is a valid name.
  jsonModel(2)
    .filter((m) => m.t !== 'string')
    .map((m) => ({
      text: `{"event_name":${toText(m)},"event_type":"b"}`,
      names: /event_name/,
    })),
  storableString(10)
    .filter(
      (k) =>
        ![
          'event_name',
          'event_type',
          'payload',
          'timestamp',
          'idempotency_key',
          'sent_at',
        ].includes(k),
    )
    .map((k) => ({
      text: `{"event_name":"a","event_type":"b",${JSON.stringify(k)}:1}`,
      names: /nrecognized|unknown/i,
    })),
);

describe('values outside the rules', () => {
  let mallory: { id: string; token: string };
  beforeAll(async () => {
    mallory = await h.createUser();
  });

  async function storedCount(): Promise<number> {
    const rows = await h.orm.em
      .fork()
      .getConnection()
      .execute<{ n: string }[]>(
        `select (select count(*) from events where user_id = ?)
              + (select count(*) from batches where user_id = ?) as n`,
        [mallory.id, mallory.id],
      );
    return Number(rows[0]!.n);
  }

  it('are refused with a 4xx JSON error naming the problem, storing nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          payloadWithInvalid.map((p) => ({
            text: `{"event_name":"a","event_type":"b","payload":${p.text}}`,
            names: p.names,
          })),
          invalidEnvelope,
        ),
        fc.boolean(),
        async ({ text, names }, asBatch) => {
          const body = asBatch
            ? `{"events":[{"event_name":"ok","event_type":"ok"},${text}]}`
            : text;
          const path = asBatch ? '/api/v1/events/batch' : '/api/v1/events';
          const res = await send('POST', path, { token: mallory.token, body });
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(res.type).toMatch(/^application\/json/);
          expect(res.body.error.message).toMatch(names);
        },
      ),
      propertyParams(200),
    );
    expect(await storedCount()).toBe(0);
  });
});

const headerText = fc.string({
  unit: fc.constantFrom(...' !#$%&*+-.0123456789:;=?@ABCZ^_`az|~/,"'.split('')),
  maxLength: 30,
});

describe('any request', () => {
  it('never answers 5xx, on any route', async () => {
    const id = fc.oneof(fc.uuid(), headerText.map(encodeURIComponent), fc.constant('..%2f'));
    const path = fc.oneof(
      fc.constantFrom(
        '/health',
        '/ready',
        '/metrics',
        '/openapi.json',
        '/api/v1/events',
        '/api/v1/events/batch',
        '/',
        '/api/v1',
      ),
      id.map((i) => `/api/v1/events/${i}`),
      id.map((i) => `/api/v1/events/${i}/reprocess`),
      id.map((i) => `/api/v1/batches/${i}`),
    );
    const query = fc.oneof(
      fc.constant(''),
      fc
        .dictionary(
          fc.constantFrom('status', 'limit', 'cursor', 'event_name', 'event_type', 'x', 'limit[]'),
          fc.oneof(
            headerText,
            fc.uuid(),
            fc.integer().map(String),
            // Looks like an id at a glance: 36 hex digits and hyphens in any order.
            fc.stringMatching(/^[0-9a-f-]{36}$/),
          ),
          { maxKeys: 4 },
        )
        .map((q) => `?${new URLSearchParams(q)}`),
      headerText.map((s) => `?${encodeURIComponent(s)}`),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 200 }),
      payloadModel.map(eventText),
      jsonModel(3).map(
        (m) => `{"event_name":"a","event_type":"b","payload":{"constructor":${toText(m)}}}`,
      ),
      fc
        .array(payloadModel, { maxLength: 3 })
        .map((ms) => `{"events":[${ms.map(eventText).join(',')}]}`),
      jsonModel(4).map(toText),
    );
    const headers = fc.record(
      {
        'content-type': fc.constantFrom(
          'application/json',
          'text/plain',
          'application/json; charset=latin1',
          'application/x-www-form-urlencoded',
          '',
        ),
        'idempotency-key': headerText,
        'content-encoding': fc.constantFrom('gzip', 'identity', 'br'),
        'x-any': headerText,
      },
      { requiredKeys: [] },
    );
    const auth = fc.oneof(fc.constant('alice'), fc.constant('none'), headerText);
    interface Req {
      method: string;
      path: string;
      body: string | undefined;
      headers: Record<string, string>;
      who: string;
    }
    const anyRequest: fc.Arbitrary<Req> = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
      path: fc.tuple(path, query).map(([p, q]) => p + q),
      body,
      headers,
      who: auth,
    });
    // Requests a client could mean to send: the right method, a token, JSON: these reach the
    // service's code, not only its routing and authentication.
    const json = { 'content-type': 'application/json' };
    const plausibleRequest: fc.Arbitrary<Req> = fc.oneof(
      query.map((q) => ({
        method: 'GET',
        path: `/api/v1/events${q}`,
        body: undefined,
        headers: {},
        who: 'alice',
      })),
      body.map((b) => ({
        method: 'POST',
        path: '/api/v1/events',
        body: b ?? '',
        headers: json,
        who: 'alice',
      })),
      body.map((b) => ({
        method: 'POST',
        path: '/api/v1/events/batch',
        body: b ?? '',
        headers: json,
        who: 'alice',
      })),
      fc
        .tuple(
          fc.constantFrom('GET', 'POST'),
          id,
          fc.constantFrom('/api/v1/events/', '/api/v1/batches/'),
        )
        .map(([method, i, prefix]) => ({
          method,
          path: method === 'POST' ? `/api/v1/events/${i}/reprocess` : prefix + i,
          body: undefined,
          headers: {},
          who: 'alice',
        })),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyRequest, plausibleRequest), async (req) => {
        const all: Record<string, string> = { ...req.headers };
        if (req.who === 'alice') all.authorization = `Bearer ${alice.token}`;
        else if (req.who !== 'none') all.authorization = req.who;
        const sendsBody = req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD';
        const res = await fetch(h.baseUrl + req.path, {
          method: req.method,
          headers: all,
          body: sendsBody ? req.body : undefined,
        });
        await res.arrayBuffer();
        expect({ method: req.method, path: req.path, status: res.status }).toEqual({
          method: req.method,
          path: req.path,
          status: expect.any(Number),
        });
        expect(res.status).toBeLessThan(500);
      }),
      propertyParams(300),
    );
    expect((await send('GET', '/health')).status).toBe(200);
  });
});
