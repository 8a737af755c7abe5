import { Harness } from '../support/harness';

let h: Harness;
let alice: { id: string; token: string };
let bob: { id: string; token: string };

beforeAll(async () => {
  h = await Harness.start();
  alice = await h.createUser();
  bob = await h.createUser();
});
afterAll(() => h.close());

const valid = {
  event_name: 'page_view',
  event_type: 'engagement',
  payload: { page: '/home', duration: 45 },
};

async function countEvents(userId: string): Promise<number> {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>('select count(*) as n from events where user_id = ?', [userId]);
  return Number(rows[0]!.n);
}

describe('POST /api/v1/events then GET: the full round trip', () => {
  it('accepts with 202, processes, and GET shows processed with properties', async () => {
    const res = await h.request('POST', '/api/v1/events', { token: alice.token, body: valid });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      event_id: expect.any(String),
      workflow_id: `event-${res.body.event_id}`,
      status: 'received',
    });

    const event = await h.waitForEvent(alice.token, res.body.event_id);
    expect(event).toMatchObject({
      id: res.body.event_id,
      event_name: 'page_view',
      event_type: 'engagement',
      status: 'processed',
      processed: true,
      processing_error: null,
      payload: { page: '/home', duration: 45 },
    });
    expect(Date.parse(event.processed_at)).not.toBeNaN();
    expect(event.properties).toEqual({
      original: { page: '/home', duration: 45 },
      normalized: { page: '/home', duration: 45 },
      normalized_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      user: { id: alice.id },
    });
  });

  it('processes an event without a payload as {}', async () => {
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { event_name: 'click', event_type: 'interaction' },
    });
    expect(res.status).toBe(202);
    const event = await h.waitForEvent(alice.token, res.body.event_id);
    expect(event.status).toBe('processed');
    expect(event.properties.original).toEqual({});
  });

  it('processes a payload at the 1 MB limit', async () => {
    const overhead = JSON.stringify({ blob: '' }).length;
    const payload = { blob: 'x'.repeat(1024 * 1024 - overhead) };
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { event_name: 'upload', event_type: 'bulk', payload },
    });
    expect(res.status).toBe(202);
    const event = await h.waitForEvent(alice.token, res.body.event_id);
    expect(event.status).toBe('processed');
    expect(event.properties.original.blob).toHaveLength(payload.blob.length);
  });

  it('records a payload over 1 MB as a validation failure on the event', async () => {
    const payload = { blob: 'x'.repeat(1024 * 1024) };
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { event_name: 'upload', event_type: 'bulk', payload },
    });
    expect(res.status).toBe(202);
    const event = await h.waitForEvent(alice.token, res.body.event_id);
    expect(event).toMatchObject({
      status: 'failed',
      processed: false,
      processed_at: null,
      processing_error: 'validation_error: Payload exceeds 1MB size limit',
    });
  });

  it('records a payload nested 11 levels deep as a validation failure', async () => {
    let payload: unknown = 1;
    for (let i = 0; i < 11; i++) payload = { k: payload };
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { event_name: 'deep', event_type: 'test', payload },
    });
    expect(res.status).toBe(202);
    const event = await h.waitForEvent(alice.token, res.body.event_id);
    expect(event.status).toBe('failed');
    expect(event.processing_error).toBe('validation_error: Payload exceeds max nesting depth (10)');
  });
});

describe('ownership', () => {
  it("answers 404 for another user's event, as for an unknown one", async () => {
    const res = await h.request('POST', '/api/v1/events', { token: alice.token, body: valid });
    const other = await h.request('GET', `/api/v1/events/${res.body.event_id}`, {
      token: bob.token,
    });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    const unknown = await h.request('GET', '/api/v1/events/01a2f000-0000-7000-8000-000000000000', {
      token: bob.token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe(
      other.body.error.message.replace(res.body.event_id, '01a2f000-0000-7000-8000-000000000000'),
    );
  });
});

describe('HTTP errors', () => {
  const post = (opts: Parameters<Harness['request']>[2]) =>
    h.request('POST', '/api/v1/events', opts);

  it('401 without a token, with a malformed header, or with an unknown token', async () => {
    const cases: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer evt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      { authorization: 'Bearer not-a-token' },
    ];
    for (const headers of cases) {
      const res = await post({ body: valid, headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
  });

  it('400 for invalid JSON, naming the problem', async () => {
    const res = await post({ token: alice.token, body: '{"event_name": "x",' });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'invalid_json',
      message: expect.stringMatching(/^Request body is not valid JSON: /),
    });
  });

  it('400 for an empty body', async () => {
    const res = await post({
      token: alice.token,
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/empty/);
  });

  it('415 for a non-JSON content type', async () => {
    const res = await post({
      token: alice.token,
      body: 'event_name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('413 for a body over the limit, naming the limit', async () => {
    const before = await countEvents(alice.id);
    const res = await post({
      token: alice.token,
      body: { ...valid, payload: { blob: 'x'.repeat(h.config.api.eventMaxBodyBytes) } },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toBe(
      `Request body exceeds the limit of ${h.config.api.eventMaxBodyBytes} bytes`,
    );
    expect(await countEvents(alice.id)).toBe(before);
  });

  it.each([
    ['missing event_name', { event_type: 'x' }, '$.event_name'],
    ['empty event_type', { event_name: 'x', event_type: '   ' }, '$.event_type'],
    ['event_name not a string', { event_name: 42, event_type: 'x' }, '$.event_name'],
    [
      'payload a string',
      { event_name: 'x', event_type: 'y', payload: 'string_payload' },
      '$.payload',
    ],
    ['payload an array', { event_name: 'x', event_type: 'y', payload: [1] }, '$.payload'],
    ['an unknown field', { event_name: 'x', event_type: 'y', colour: 'red' }, '$'],
    ['event_name too long', { event_name: 'x'.repeat(256), event_type: 'y' }, '$.event_name'],
  ])('422 for %s, with the zod issues', async (_what, body, path) => {
    const before = await countEvents(alice.id);
    const res = await post({ token: alice.token, body });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path, message: expect.any(String) })]),
    );
    expect(await countEvents(alice.id)).toBe(before);
  });

  it('422 for a NUL character, which PostgreSQL cannot store', async () => {
    const res = await post({ token: alice.token, body: { ...valid, payload: { s: 'a\u0000b' } } });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/\$\.payload\.s contains a NUL character/);
  });

  it('404 for an unknown route and a malformed id, as JSON', async () => {
    const route = await h.request('GET', '/api/v1/nothing', { token: alice.token });
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('not_found');
    const id = await h.request('GET', '/api/v1/events/not-a-uuid', { token: alice.token });
    expect(id.status).toBe(404);
  });

  it('never leaks a stack trace', async () => {
    const res = await post({ token: alice.token, body: '{' });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('health', () => {
  it('GET /health answers ok and GET /ready checks the database, migrations and Temporal', async () => {
    expect((await h.request('GET', '/health')).body).toEqual({ status: 'ok' });
    const ready = await h.request('GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ready',
      checks: { database: 'ok', migrations: 'ok', temporal: 'ok' },
      backlog: {
        unstarted: expect.any(Number),
        oldest_age_sec: expect.any(Number),
        oldest_unfinished_age_sec: expect.any(Number),
        in_flight: expect.any(Number),
      },
    });
  });
});
