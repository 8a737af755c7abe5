import { Harness } from '../support/harness';

/**
 * Every bad request gets the right 4xx and a JSON error that says what is wrong, stores
 * nothing, and leaves the service healthy.
 */
let h: Harness;
let alice: { id: string; token: string };
let bob: { id: string; token: string };
let bobsEvent: string;
let bobsBatch: string;

beforeAll(async () => {
  h = await Harness.start({ noWorker: true });
  alice = await h.createUser();
  bob = await h.createUser();
  const e = await h.request('POST', '/api/v1/events', {
    token: bob.token,
    body: { event_name: 'a', event_type: 'b' },
  });
  bobsEvent = e.body.event_id;
  const b = await h.request('POST', '/api/v1/events/batch', {
    token: bob.token,
    body: { events: [{ event_name: 'a', event_type: 'b' }] },
  });
  bobsBatch = b.body.batch_id;
});
afterAll(() => h.close());

const ok = { event_name: 'page_view', event_type: 'engagement', payload: { page: '/home' } };
const nested = (levels: number) => {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};

interface Case {
  name: string;
  method?: string;
  path?: string;
  /** Raw string bodies are sent as they are; anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Whose token; 'none' sends no Authorization header. */
  as?: 'alice' | 'none';
  status: number;
  code: string;
  message: RegExp;
}

const E = '/api/v1/events';
const B = '/api/v1/events/batch';
const P = '/api/v1/tracking-plan';

const cases: Case[] = [
  // Malformed JSON, and JSON that is not an object
  {
    name: 'truncated JSON',
    body: '{"event_name": "x", "event_type"',
    status: 400,
    code: 'invalid_json',
    message: /not valid JSON/,
  },
  {
    name: 'malformed JSON',
    body: "{event_name: 'x'}",
    status: 400,
    code: 'invalid_json',
    message: /not valid JSON/,
  },
  {
    name: 'trailing garbage',
    body: '{"event_name":"x","event_type":"y"} xyz',
    status: 400,
    code: 'invalid_json',
    message: /not valid JSON/,
  },
  {
    name: 'empty body',
    body: '',
    headers: { 'content-type': 'application/json' },
    status: 400,
    code: 'invalid_json',
    message: /empty/,
  },
  { name: 'whitespace body', body: '   \n', status: 400, code: 'invalid_json', message: /empty/ },
  {
    name: 'JSON array',
    body: [ok],
    status: 422,
    code: 'validation_error',
    message: /expected object/,
  },
  {
    name: 'JSON string',
    body: '"hello"',
    status: 422,
    code: 'validation_error',
    message: /expected object/,
  },
  {
    name: 'JSON null',
    body: 'null',
    status: 422,
    code: 'validation_error',
    message: /expected object/,
  },
  {
    name: 'JSON number',
    body: '42',
    status: 422,
    code: 'validation_error',
    message: /expected object/,
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'),
    headers: { 'content-type': 'application/json; charset=latin1' },
    status: 400,
    code: 'invalid_json',
    message: /./,
  },
  // Content type
  {
    name: 'form content type',
    body: 'a=b',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'unsupported_media_type',
    message: /application\/json/,
  },
  {
    name: 'text/plain content type',
    body: JSON.stringify(ok),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
    message: /text\/plain/,
  },
  {
    name: 'no content type',
    body: JSON.stringify(ok),
    headers: { 'content-type': '' },
    status: 415,
    code: 'unsupported_media_type',
    message: /Content-Type/,
  },
  // Size limits
  {
    name: 'huge body',
    body: { ...ok, payload: { s: 'x'.repeat(3 * 1024 * 1024) } },
    status: 413,
    code: 'payload_too_large',
    message: /limit of \d+ bytes/,
  },
  {
    name: 'huge batch body',
    path: B,
    body: { events: [{ ...ok, payload: { s: 'x'.repeat(17 * 1024 * 1024) } }] },
    status: 413,
    code: 'payload_too_large',
    message: /limit of 16777216 bytes/,
  },
  {
    name: 'deep nesting past the edge cap',
    body: { ...ok, payload: { deep: nested(100) } },
    status: 422,
    code: 'validation_error',
    message: /nesting deeper than 64 levels/,
  },
  {
    name: 'very deep nesting (50,000)',
    body: `{"event_name":"x","event_type":"y","payload":{"d":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
    status: 422,
    code: 'validation_error',
    message: /nesting deeper than 64/,
  },
  // Long strings in every field
  {
    name: 'long event_name',
    body: { ...ok, event_name: 'n'.repeat(256) },
    status: 422,
    code: 'validation_error',
    message: /event_name: must be at most 255/,
  },
  {
    name: 'long event_type',
    body: { ...ok, event_type: 't'.repeat(10_000) },
    status: 422,
    code: 'validation_error',
    message: /event_type: must be at most 255/,
  },
  {
    name: 'long idempotency_key',
    body: { ...ok, idempotency_key: 'k'.repeat(256) },
    status: 422,
    code: 'validation_error',
    message: /idempotency_key: must be at most 255/,
  },
  {
    name: 'long timestamp string',
    body: { ...ok, timestamp: '2025-01-01T00:00:00' + '0'.repeat(5000) + 'Z' },
    status: 422,
    code: 'validation_error',
    message: /timestamp/,
  },
  // Dates PostgreSQL or JavaScript cannot hold: outside years 0001 to 9999
  {
    name: 'timestamp in year 0',
    body: { ...ok, timestamp: '0000-01-01T00:00:00Z' },
    status: 422,
    code: 'validation_error',
    message: /timestamp: must be between 0001-01-01/,
  },
  {
    name: 'timestamp pushed before year 1 by its offset',
    body: { ...ok, timestamp: '0001-01-01T00:30:00+01:00' },
    status: 422,
    code: 'validation_error',
    message: /timestamp: must be between/,
  },
  {
    name: 'sent_at pushed past year 9999 by its offset',
    body: { ...ok, sent_at: '9999-12-31T23:30:00-01:00' },
    status: 422,
    code: 'validation_error',
    message: /sent_at: must be between/,
  },
  {
    name: 'batch sent_at in year 0',
    path: B,
    body: { sent_at: '0000-06-01T00:00:00', events: [ok] },
    status: 422,
    code: 'validation_error',
    message: /sent_at: must be between/,
  },
  {
    name: 'timestamp of a batch event in year 0',
    path: B,
    body: { events: [ok, { ...ok, timestamp: '0000-12-31T23:59:59.999Z' }] },
    status: 422,
    code: 'validation_error',
    message: /events\.1\.timestamp: must be between/,
  },
  // Wrong types in every field
  {
    name: 'event_name a number',
    body: { ...ok, event_name: 1 },
    status: 422,
    code: 'validation_error',
    message: /event_name/,
  },
  {
    name: 'event_type a boolean',
    body: { ...ok, event_type: true },
    status: 422,
    code: 'validation_error',
    message: /event_type/,
  },
  {
    name: 'event_name null',
    body: { ...ok, event_name: null },
    status: 422,
    code: 'validation_error',
    message: /event_name/,
  },
  {
    name: 'payload a string',
    body: { ...ok, payload: 'string_payload' },
    status: 422,
    code: 'validation_error',
    message: /payload/,
  },
  {
    name: 'payload an array',
    body: { ...ok, payload: [1, 2] },
    status: 422,
    code: 'validation_error',
    message: /payload/,
  },
  {
    name: 'timestamp a number',
    body: { ...ok, timestamp: 1734516000 },
    status: 422,
    code: 'validation_error',
    message: /timestamp/,
  },
  {
    name: 'sent_at an object',
    body: { ...ok, sent_at: {} },
    status: 422,
    code: 'validation_error',
    message: /sent_at/,
  },
  {
    name: 'idempotency_key a number',
    body: { ...ok, idempotency_key: 7 },
    status: 422,
    code: 'validation_error',
    message: /idempotency_key/,
  },
  {
    name: 'events not an array',
    path: B,
    body: { events: ok },
    status: 422,
    code: 'validation_error',
    message: /events/,
  },
  {
    name: 'batch item not an object',
    path: B,
    body: { events: [ok, 'x'] },
    status: 422,
    code: 'validation_error',
    message: /events\.1/,
  },
  // Missing fields and unknown fields (rejected, see README)
  {
    name: 'missing event_name',
    body: { event_type: 'x' },
    status: 422,
    code: 'validation_error',
    message: /event_name/,
  },
  {
    name: 'missing everything',
    body: {},
    status: 422,
    code: 'validation_error',
    message: /event_name/,
  },
  {
    name: 'unknown top-level field',
    body: { ...ok, user_id: 'someone' },
    status: 422,
    code: 'validation_error',
    message: /Unrecognized key.*user_id/,
  },
  {
    name: 'unknown field in a batch event',
    path: B,
    body: { events: [{ ...ok, colour: 'red' }] },
    status: 422,
    code: 'validation_error',
    message: /colour/,
  },
  // Unicode edge cases and numbers out of range
  {
    name: 'NUL in payload value',
    body: { ...ok, payload: { s: 'a\u0000b' } },
    status: 422,
    code: 'validation_error',
    message: /NUL/,
  },
  {
    name: 'NUL in payload key',
    body: { ...ok, payload: { ['k\u0000']: 1 } },
    status: 422,
    code: 'validation_error',
    message: /NUL/,
  },
  {
    name: 'NUL in event_name',
    body: { ...ok, event_name: 'a\u0000' },
    status: 422,
    code: 'validation_error',
    message: /NUL/,
  },
  {
    name: 'lone high surrogate',
    body: '{"event_name":"x","event_type":"y","payload":{"s":"\\ud800"}}',
    status: 422,
    code: 'validation_error',
    message: /lone UTF-16 surrogate/,
  },
  {
    name: 'lone low surrogate in a key',
    body: '{"event_name":"x","event_type":"y","payload":{"\\udc00":1}}',
    status: 422,
    code: 'validation_error',
    message: /surrogate/,
  },
  {
    name: 'number out of range',
    body: '{"event_name":"x","event_type":"y","payload":{"n":1e400}}',
    status: 422,
    code: 'validation_error',
    message: /out of range/,
  },
  {
    name: 'integer beyond 2^53 where a string belongs',
    body: '{"event_name":12345678901234567890,"event_type":"y"}',
    status: 422,
    code: 'validation_error',
    message: /event_name/,
  },
  {
    name: 'empty event_name after trimming',
    body: { ...ok, event_name: '  \t ' },
    status: 422,
    code: 'validation_error',
    message: /must not be empty/,
  },
  // Tokens
  {
    name: 'missing token',
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /Missing Authorization/,
  },
  {
    name: 'malformed Authorization',
    headers: { authorization: 'Token abc' },
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /Bearer/,
  },
  {
    name: 'empty bearer',
    headers: { authorization: 'Bearer ' },
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /Bearer/,
  },
  {
    name: 'unknown token',
    headers: { authorization: 'Bearer evt_' + 'A'.repeat(43) },
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /Invalid API token/,
  },
  {
    name: 'foreign token (a JWT)',
    headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig' },
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /Invalid API token/,
  },
  {
    name: 'token with SQL in it',
    headers: { authorization: "Bearer ' or 1=1 --" },
    as: 'none',
    body: ok,
    status: 401,
    code: 'unauthorized',
    message: /./,
  },
  // Ids: another user's, malformed
  {
    name: "another user's event",
    method: 'GET',
    path: 'bobs-event',
    status: 404,
    code: 'not_found',
    message: /No event/,
  },
  {
    name: "another user's batch",
    method: 'GET',
    path: 'bobs-batch',
    status: 404,
    code: 'not_found',
    message: /No batch/,
  },
  {
    name: 'malformed event id',
    method: 'GET',
    path: `${E}/1%20or%201=1`,
    status: 404,
    code: 'not_found',
    message: /No event/,
  },
  {
    name: 'unknown event id',
    method: 'GET',
    path: `${E}/01a2f000-0000-7000-8000-000000000000`,
    status: 404,
    code: 'not_found',
    message: /No event/,
  },
  {
    name: 'cursor of 36 hyphens',
    method: 'GET',
    path: `${E}?cursor=${'-'.repeat(36)}`,
    status: 422,
    code: 'validation_error',
    message: /cursor: must be a next_cursor value/,
  },
  {
    name: 'cursor of 36 hex digits without hyphens in place',
    method: 'GET',
    path: `${E}?cursor=${'0'.repeat(32)}----`,
    status: 422,
    code: 'validation_error',
    message: /cursor: must be a next_cursor value/,
  },
  {
    name: 'NUL in the event_name filter',
    method: 'GET',
    path: `${E}?event_name=a%00b`,
    status: 422,
    code: 'validation_error',
    message: /event_name: contains a NUL/,
  },
  {
    name: 'NUL in the event_type filter',
    method: 'GET',
    path: `${E}?event_type=a%00b`,
    status: 422,
    code: 'validation_error',
    message: /event_type: contains a NUL/,
  },
  {
    name: 'NUL in the subject_user_id filter',
    method: 'GET',
    path: `${E}?subject_user_id=a%00b`,
    status: 422,
    code: 'validation_error',
    message: /subject_user_id: contains a NUL/,
  },
  {
    name: 'NUL in the anonymous_id filter',
    method: 'GET',
    path: `${E}?anonymous_id=a%00b`,
    status: 422,
    code: 'validation_error',
    message: /anonymous_id: contains a NUL/,
  },
  {
    name: 'wrong method',
    method: 'DELETE',
    path: `${E}/01a2f000-0000-7000-8000-000000000000`,
    status: 405,
    code: 'method_not_allowed',
    message: /DELETE/,
  },
  // Batches: empty, oversized, duplicate keys
  {
    name: 'empty batch',
    path: B,
    body: { events: [] },
    status: 422,
    code: 'validation_error',
    message: /at least 1 event/,
  },
  {
    name: 'oversized batch',
    path: B,
    body: { events: Array.from({ length: 1001 }, () => ok) },
    status: 422,
    code: 'validation_error',
    message: /at most 1000 events/,
  },
  {
    name: 'duplicate keys in a batch',
    path: B,
    body: {
      events: [
        { ...ok, idempotency_key: 'dup' },
        { ...ok, idempotency_key: 'dup' },
      ],
    },
    status: 422,
    code: 'validation_error',
    message: /repeats the idempotency_key/,
  },
  // Tracking plans: the body reader's and the schema's answers, and plans that do not compile
  {
    name: 'tracking plan: malformed JSON',
    method: 'PUT',
    path: P,
    body: '{"mode": "enforce", "events"',
    status: 400,
    code: 'invalid_json',
    message: /not valid JSON/,
  },
  {
    name: 'tracking plan: not JSON',
    method: 'PUT',
    path: P,
    body: 'mode=enforce',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'unsupported_media_type',
    message: /application\/json/,
  },
  {
    name: 'tracking plan: a JSON array',
    method: 'PUT',
    path: P,
    body: [{ mode: 'enforce' }],
    status: 422,
    code: 'validation_error',
    message: /expected object/,
  },
  {
    name: 'tracking plan: an unknown field',
    method: 'PUT',
    path: P,
    body: { mode: 'enforce', schemas: {} },
    status: 422,
    code: 'validation_error',
    message: /schemas/,
  },
  {
    name: 'tracking plan: a schema that is not an object',
    method: 'PUT',
    path: P,
    body: { mode: 'enforce', events: { a: 'string' } },
    status: 422,
    code: 'validation_error',
    message: /\$\.events\.a/,
  },
  {
    name: 'tracking plan: without a token',
    method: 'PUT',
    path: P,
    body: { mode: 'off' },
    as: 'none',
    status: 401,
    code: 'unauthorized',
    message: /Authorization/,
  },
  {
    name: 'tracking plan: wrong method',
    method: 'DELETE',
    path: P,
    status: 405,
    code: 'method_not_allowed',
    message: /DELETE/,
  },
];

/** Rows the requesting user owns; other test files write to the same database meanwhile. */
async function storedCount(): Promise<number> {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>(
      `select (select count(*) from events where user_id = ?)
            + (select count(*) from batches where user_id = ?)
            + (select count(*) from tracking_plan_versions where user_id = ?) as n`,
      [alice.id, alice.id, alice.id],
    );
  return Number(rows[0]!.n);
}

it('has at least 40 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(40);
});

it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
  const before = await storedCount();
  const path =
    c.path === 'bobs-event'
      ? `${E}/${bobsEvent}`
      : c.path === 'bobs-batch'
        ? `/api/v1/batches/${bobsBatch}`
        : (c.path ?? E);
  const res = await h.request(c.method ?? 'POST', path, {
    token: c.as === 'none' ? undefined : alice.token,
    body: c.body,
    headers: c.headers,
  });
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({
    status: c.status,
    code: c.code,
  });
  expect(res.body.error.message).toMatch(c.message);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat \S+\.(ts|js):\d+|select |insert into/i);
  expect(await storedCount()).toBe(before);
});

it('answers a huge header with 431 and a JSON error', async () => {
  const res = await h.request('GET', '/health', { headers: { 'x-big': 'h'.repeat(20_000) } });
  expect(res.status).toBe(431);
  expect(res.body.error.code).toBe('headers_too_large');
});

it('is healthy after all of it', async () => {
  expect((await h.request('GET', '/health')).status).toBe(200);
  const res = await h.request('POST', E, { token: alice.token, body: ok });
  expect(res.status).toBe(202);
});
