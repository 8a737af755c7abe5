import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync, deflateSync } from 'node:zlib';
import { KEY_IN_BODY_MAX_BYTES } from '../../src/tracking/tracking-auth';
import { Harness } from '../support/harness';
import { basicAuth, waitForFinishedEvents } from '../support/tracking';

/** The tracking API over raw HTTP, as an SDK or a browser would call it. */
let h: Harness;
let alice: { id: string; token: string; writeKey: string };

const MAX_MESSAGES = 20;

/**
 * 256 MiB of zeros gzip to about 250 KiB; the batch limit here is 1 MiB decompressed. Made
 * before the service starts: compressing blocks this process for seconds, long enough under
 * load for the server to close an idle keep-alive connection that fetch would then reuse.
 */
let bomb: Buffer | undefined;
const gzipBomb = () => (bomb ??= gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }));

beforeAll(async () => {
  gzipBomb();
  h = await Harness.start({
    env: {
      EVENT_MAX_BODY_BYTES: String(256 * 1024),
      BATCH_MAX_BODY_BYTES: '1048576',
      TRACKING_BATCH_MAX_MESSAGES: String(MAX_MESSAGES),
      PUBLIC_API_URL: 'http://events.example.test:8080',
    },
  });
  alice = await h.createUser();
});
afterAll(() => h.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  }).then(async (res) => ({ status: res.status, headers: res.headers, body: await res.json() }));

const track = (anonymousId: string, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Order Completed',
  anonymousId,
  messageId: randomUUID(),
  properties: { total: 42 },
  context: { library: { name: 'raw-http', version: '1' } },
  timestamp: new Date().toISOString(),
  ...extra,
});

describe('authentication', () => {
  it('takes the write key as the Basic user name, in the body, or as a Bearer token', async () => {
    expect(alice.writeKey).toMatch(/^evw_/);
    const anon = randomUUID();
    const auth = basicAuth(alice.writeKey);
    expect(
      await post('/v1/batch', { batch: [track(anon)] }, { authorization: auth }),
    ).toMatchObject({ status: 200, body: { success: true } });
    expect(await post('/v1/track', { ...track(anon), writeKey: alice.writeKey })).toMatchObject({
      status: 200,
    });
    expect(
      await post('/v1/track', track(anon), { authorization: `Bearer ${alice.writeKey}` }),
    ).toMatchObject({ status: 200 });
    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 3);
    expect(events.map((e) => e.status)).toEqual(['processed', 'processed', 'processed']);
    // The write key is never stored with the event.
    expect(events.some((e) => 'writeKey' in e.payload)).toBe(false);
  });

  it('takes the API token too, for server-side SDKs', async () => {
    const anon = randomUUID();
    const res = await post(
      '/v1/batch',
      { batch: [track(anon)] },
      { authorization: basicAuth(alice.token) },
    );
    expect(res).toMatchObject({ status: 200, body: { success: true } });
    expect((await post('/v1/t', { ...track(anon), writeKey: alice.token })).status).toBe(200);
    await waitForFinishedEvents(h, alice.token, { anonymous_id: anon, status: 'processed' }, 2);
  });

  it('answers 401 to a wrong or missing key', async () => {
    const wrong = basicAuth(`evw_${'A'.repeat(43)}`);
    const res = await post('/v1/batch', { batch: [track('a')] }, { authorization: wrong });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect((await post('/v1/track', track('a'))).status).toBe(401);
    expect((await post('/v1/track', { ...track('a'), writeKey: 'nope' })).status).toBe(401);
  });

  it('answers a wrong key in the header without reading the body', async () => {
    // Headers that announce a body (within the limit), and no byte of it: only an answer that
    // comes from the headers alone arrives.
    const req = httpRequest(`${h.baseUrl}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(`evw_${'C'.repeat(43)}`),
        'content-type': 'application/json',
        'content-length': String(512 * 1024),
      },
    });
    req.on('error', () => undefined);
    req.flushHeaders();
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        setTimeout(() => reject(new Error('no answer without the body')), 5000).unref();
        req.on('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
      });
      expect(answer.status).toBe(401);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'unauthorized' } });
    } finally {
      req.destroy();
    }
  });
});

describe('bodies', () => {
  const auth = () => ({ authorization: basicAuth(alice.writeKey) });

  it('answers 400 to malformed JSON, which SDKs do not retry', async () => {
    const res = await post('/v1/batch', '{"batch": [', auth());
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const notBatch = await post('/v1/batch', { batch: 'nope' }, auth());
    expect(notBatch).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });

  it('reads gzip and deflate bodies, and text/plain as browsers send', async () => {
    const anon = randomUUID();
    const gz = await post('/v1/batch', gzipSync(JSON.stringify({ batch: [track(anon)] })), {
      ...auth(),
      'content-encoding': 'gzip',
    });
    expect(gz).toMatchObject({ status: 200, body: { success: true } });
    const df = await post('/v1/t', deflateSync(JSON.stringify(track(anon))), {
      ...auth(),
      'content-encoding': 'deflate',
    });
    expect(df.status).toBe(200);
    const text = await post('/v1/t', JSON.stringify({ ...track(anon), writeKey: alice.writeKey }), {
      'content-type': 'text/plain;charset=UTF-8',
    });
    expect(text.status).toBe(200);
    await waitForFinishedEvents(h, alice.token, { anonymous_id: anon, status: 'processed' }, 3);
  });

  it('refuses a gzip bomb with a 400 once past the limit, and stays healthy', async () => {
    const bomb = gzipBomb();
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const before = process.memoryUsage().rss;
    const res = await post('/v1/batch', bomb, { ...auth(), 'content-encoding': 'gzip' });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'payload_too_large' } } });
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
    expect((await h.request('GET', '/health')).status).toBe(200);
    expect((await post('/v1/track', track(randomUUID()), auth())).status).toBe(200);
  });

  // The limits are the same whichever key a request carries.
  const tokenAuth = () => ({ authorization: basicAuth(alice.token) });

  it('reads a body carrying its key only up to a small bound before checking the key', async () => {
    const anon = randomUUID();
    // A single call larger than the bound, well within the route's own limit.
    const big = { ...track(anon), properties: { text: 'x'.repeat(KEY_IN_BODY_MAX_BYTES) } };
    const keyInBody = JSON.stringify({ ...big, writeKey: alice.token });
    const inBody = await post('/v1/t', keyInBody, { 'content-type': 'text/plain' });
    expect(inBody).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'payload_too_large',
          message: expect.stringMatching(/Authorization header/),
          details: { limit_bytes: KEY_IN_BODY_MAX_BYTES },
        },
      },
    });
    // Compressed, the same: the bound is on what it decompresses to.
    const zipped = await post('/v1/t', gzipSync(keyInBody), { 'content-encoding': 'gzip' });
    expect(zipped).toMatchObject({ status: 400, body: { error: { code: 'payload_too_large' } } });
    // With the key in the header, the route's own limit applies.
    expect((await post('/v1/t', big, tokenAuth())).status).toBe(200);
    await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 1);
  });

  it(`refuses a batch of more than TRACKING_BATCH_MAX_MESSAGES with a 400, and stays up`, async () => {
    const anon = randomUUID();
    const batch = (n: number) => Array.from({ length: n }, () => track(anon));
    const over = await post('/v1/batch', { batch: batch(MAX_MESSAGES + 1) }, tokenAuth());
    expect(over).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'payload_too_large',
          message: `A batch carries at most ${MAX_MESSAGES} messages; this one has ${MAX_MESSAGES + 1}`,
          details: { limit_messages: MAX_MESSAGES, messages: MAX_MESSAGES + 1 },
        },
      },
    });
    for (const path of ['/v1/import', '/v1/b']) {
      expect((await post(path, { batch: batch(MAX_MESSAGES + 1) }, tokenAuth())).status).toBe(400);
    }
    expect((await h.request('GET', '/health')).status).toBe(200);
    // Nothing of the refused batches was stored; one at the bound is taken whole.
    expect((await post('/v1/batch', { batch: batch(MAX_MESSAGES) }, tokenAuth())).status).toBe(200);
    const events = await waitForFinishedEvents(
      h,
      alice.token,
      { anonymous_id: anon },
      MAX_MESSAGES,
    );
    expect(events).toHaveLength(MAX_MESSAGES);
  });

  it('answers 400 to a corrupt gzip body', async () => {
    const res = await post('/v1/batch', Buffer.from('not gzip at all'), {
      ...auth(),
      'content-encoding': 'gzip',
    });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
  });

  it('answers CORS preflights of the tracking routes', async () => {
    const res = await fetch(`${h.baseUrl}/v1/t`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/content-type/i);
  });
});

describe('mapping and processing', () => {
  const auth = () => ({ authorization: basicAuth(alice.writeKey) });

  it('a batch with one message breaking the spec: the others processed, it failed with why', async () => {
    const anon = randomUUID();
    const batch = [
      track(anon, { event: 'First' }),
      track(anon, { event: undefined, properties: { broken: true } }),
      { type: 'identify', anonymousId: anon, userId: `u-${anon}`, traits: { plan: 'pro' } },
      track(anon, { event: 'Last' }),
    ];
    const res = await post('/v1/batch', { batch, sentAt: new Date().toISOString() }, auth());
    expect(res).toMatchObject({ status: 200, body: { success: true } });

    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 4);
    const failed = events.filter((e) => e.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      event_type: 'track',
      event_name: 'track',
      processing_error: 'validation_error: $.event: a track needs an event',
      payload: expect.objectContaining({ properties: { broken: true } }),
    });
    const processed = events.filter((e) => e.status === 'processed');
    expect(processed.map((e) => e.event_name).sort()).toEqual(['First', 'Last', 'identify']);
    // Found where failed events are looked for.
    const listed = await h.request('GET', `/api/v1/events?status=failed&anonymous_id=${anon}`, {
      token: alice.token,
    });
    expect(listed.body.events.map((e: any) => e.id)).toEqual([failed[0].id]);
  });

  it('a message PostgreSQL could not store as sent is stored failed, its reason escaped', async () => {
    const anon = randomUUID();
    const batch = [
      track(anon, { event: 'NulKey', properties: { '\u0000': 1, nested: { 'k\u0000': 2 } } }),
      track(anon, { event: 'SurrogateKey', context: { '\udc00': true } }),
      track(anon, { event: 'YearZero', timestamp: '0000-01-01T00:00:00Z' }),
      track(anon, { event: 'PastYear9999', originalTimestamp: '+010000-01-01T00:00:00.000Z' }),
      track(anon, { event: 'SentInYearZero', sentAt: '0000-06-01T00:00:00Z' }),
      // Each in range, but millennia apart: the clock-skew correction would leave the range.
      track(anon, {
        event: 'Skewed',
        timestamp: '9999-12-31T00:00:00Z',
        sentAt: '0001-01-01T00:00:00Z',
      }),
      track(anon, { event: 'Fine' }),
    ];
    const res = await post('/v1/batch', { batch }, auth());
    expect(res).toMatchObject({ status: 200, body: { success: true } });
    const single = await post(
      '/v1/track',
      track(anon, { event: 'SingleNulKey', properties: { '\u0000': 1 } }),
      auth(),
    );
    expect(single).toMatchObject({ status: 200, body: { success: true } });

    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 8);
    const failed = Object.fromEntries(
      events.filter((e) => e.status === 'failed').map((e) => [e.event_name, e.processing_error]),
    );
    const range = 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';
    expect(failed).toEqual({
      NulKey: expect.stringContaining('$.properties["\\u0000"] key contains a NUL'),
      SurrogateKey: expect.stringContaining('$.context["\\udc00"] key contains a lone'),
      YearZero: `validation_error: $.timestamp: ${range}`,
      PastYear9999: `validation_error: $.originalTimestamp: ${range}`,
      SentInYearZero: `validation_error: $.sentAt: ${range}`,
      SingleNulKey: expect.stringContaining('$.properties["\\u0000"] key contains a NUL'),
    });
    const byName = Object.fromEntries(events.map((e) => [e.event_name, e]));
    expect(byName.Fine.status).toBe('processed');
    // The skew correction falls back to the time the service received the message.
    expect(byName.Skewed).toMatchObject({
      status: 'processed',
      timestamp: '9999-12-31T00:00:00.000Z',
    });
    expect(byName.Skewed.event_time).toBe(byName.Skewed.received_at);
  });

  it('answers 400 to a batch whose sentAt is outside years 0001 to 9999, storing nothing', async () => {
    const anon = randomUUID();
    const res = await post(
      '/v1/batch',
      { sentAt: '0000-01-01T00:00:00Z', batch: [track(anon)] },
      auth(),
    );
    expect(res).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'invalid_request',
          message: expect.stringMatching(/sentAt: must be between/),
        },
      },
    });
    const listed = await h.request('GET', `/api/v1/events?anonymous_id=${anon}`, {
      token: alice.token,
    });
    expect(listed.body.events).toEqual([]);
  });

  it('a payload rule broken by one message fails it alone, in processing', async () => {
    const anon = randomUUID();
    let deep: unknown = 1;
    for (let i = 0; i < 12; i++) deep = { k: deep };
    const res = await post(
      '/v1/batch',
      { batch: [track(anon, { event: 'Deep', properties: deep }), track(anon)] },
      auth(),
    );
    expect(res.status).toBe(200);
    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 2);
    const byName = Object.fromEntries(events.map((e) => [e.event_name, e]));
    expect(byName.Deep).toMatchObject({
      status: 'failed',
      processing_error: expect.stringMatching(/^validation_error: .*nesting depth/),
    });
    expect(byName['Order Completed'].status).toBe('processed');
  });

  it('maps each message type, stores userId and anonymousId, and filters by them', async () => {
    const anon = randomUUID();
    const userId = `user-${anon}`;
    const common = { anonymousId: anon, userId, context: { ip: '203.0.113.9' } };
    const calls: [string, Record<string, unknown>][] = [
      ['/v1/identify', { ...common, traits: { email: 'a@example.com' } }],
      ['/v1/page', { ...common, name: 'Pricing', properties: { path: '/pricing' } }],
      ['/v1/page', { ...common, properties: { path: '/' } }],
      ['/v1/screen', { ...common, name: 'Home' }],
      ['/v1/group', { ...common, groupId: 'g1', traits: { name: 'Acme' } }],
      ['/v1/alias', { ...common, previousId: anon }],
      ['/v1/track', { ...common, event: 'Signed Up', properties: { plan: 'pro' } }],
    ];
    for (const [path, body] of calls) {
      const res = await post(path, { ...body, messageId: randomUUID() }, auth());
      expect(res).toMatchObject({ status: 200, body: { success: true } });
    }
    const events = await waitForFinishedEvents(h, alice.token, { subject_user_id: userId }, 7);
    expect(events.every((e) => e.status === 'processed')).toBe(true);
    expect(events.map((e) => [e.event_type, e.event_name]).reverse()).toEqual([
      ['identify', 'identify'],
      ['page', 'Pricing'],
      ['page', 'page'],
      ['screen', 'Home'],
      ['group', 'group'],
      ['alias', 'alias'],
      ['track', 'Signed Up'],
    ]);
    const signedUp = events[0];
    // A single call is a message like any other: the relay put it in a group of its sender's.
    expect(signedUp.workflow_id).toBe(`batch-${signedUp.batch_id}`);
    expect(signedUp).toMatchObject({
      subject_user_id: userId,
      anonymous_id: anon,
      payload: {
        userId,
        anonymousId: anon,
        properties: { plan: 'pro' },
        context: { ip: '203.0.113.9' },
      },
    });
    for (const key of ['type', 'event', 'messageId', 'timestamp']) {
      expect(signedUp.payload).not.toHaveProperty(key);
    }
    expect(events[6].payload).toMatchObject({ traits: { email: 'a@example.com' } });
    const byAnon = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 7);
    expect(byAnon).toHaveLength(7);
  });

  it('a repeated messageId stores nothing new, within a batch or across requests', async () => {
    const anon = randomUUID();
    const first = track(anon);
    const res = await post('/v1/batch', { batch: [first, first, track(anon)] }, auth());
    expect(res.status).toBe(200);
    expect((await post('/v1/track', first, auth())).status).toBe(200);
    expect((await post('/v1/batch', { batch: [first] }, auth())).status).toBe(200);
    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 2);
    expect(events).toHaveLength(2);
  });

  it('corrects a skewed client clock with sentAt, per batch and per message', async () => {
    const anon = randomUUID();
    // The client's clock is an hour fast; the event happened 5 s before it was sent.
    const skew = 60 * 60 * 1000;
    const sentAt = new Date(Date.now() + skew);
    const timestamp = new Date(sentAt.getTime() - 5000);
    const before = Date.now();
    await post(
      '/v1/batch',
      {
        batch: [track(anon, { event: 'Batched', timestamp: timestamp.toISOString() })],
        sentAt: sentAt.toISOString(),
      },
      auth(),
    );
    await post(
      '/v1/t',
      track(anon, {
        event: 'Single',
        timestamp: undefined,
        originalTimestamp: timestamp.toISOString(),
        sentAt: sentAt.toISOString(),
      }),
      auth(),
    );
    const after = Date.now();
    const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anon }, 2);
    for (const e of events) {
      const eventTime = new Date(e.event_time).getTime();
      expect(e.timestamp).toBe(timestamp.toISOString());
      expect(eventTime).toBe(new Date(e.received_at).getTime() - 5000);
      expect(eventTime).toBeGreaterThanOrEqual(before - 5000);
      expect(eventTime).toBeLessThanOrEqual(after);
    }
  });
});

describe('GET /v1/projects/:writeKey/settings', () => {
  it('points analytics.js back at this service, cacheable', async () => {
    const res = await h.request('GET', `/v1/projects/${alice.writeKey}/settings`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.body.integrations['Segment.io']).toMatchObject({
      apiKey: alice.writeKey,
      apiHost: 'events.example.test:8080/v1',
      protocol: 'http',
    });
    // A page still holding the API token keeps loading.
    expect((await h.request('GET', `/v1/projects/${alice.token}/settings`)).status).toBe(200);
  });

  it('is 404 for an unknown write key, and not kept', async () => {
    const res = await h.request('GET', `/v1/projects/evw_${'B'.repeat(43)}/settings`);
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('GET /v1/projects/:writeKey/settings behind a proxy', () => {
  let proxied: Harness;
  let key: string;
  beforeAll(async () => {
    proxied = await Harness.start({
      noWorker: true,
      env: { TRUST_PROXY: 'true', PUBLIC_API_URL: 'https://events.example.com/collect/' },
    });
    // The API token, which a page from before write keys holds: served alike.
    key = (await proxied.createUser()).token;
  });
  afterAll(() => proxied.close());

  /** GET with headers fetch would not let a test set (Host). */
  const get = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; text: string; headers: Record<string, unknown> }>(
      (resolve, reject) => {
        const req = httpRequest(`${proxied.baseUrl}${path}`, { headers }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
        });
        req.on('error', reject);
        req.end();
      },
    );

  it('answers the configured PUBLIC_API_URL whatever Host or X-Forwarded-Host say', async () => {
    const path = `/v1/projects/${key}/settings`;
    const plain = await get(path, {});
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.text).integrations['Segment.io']).toMatchObject({
      apiKey: key,
      apiHost: 'events.example.com/collect/v1',
      protocol: 'https',
    });
    const forged = await Promise.all([
      get(path, { host: 'evil.example' }),
      get(path, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }),
      get(path, { host: 'evil.example:8443', 'x-forwarded-host': 'evil.example, other.example' }),
    ]);
    for (const res of forged) {
      expect(res.status).toBe(200);
      expect(res.text).toBe(plain.text);
      expect(res.headers['cache-control']).toBe('public, max-age=300');
      expect(res.headers.vary).toBeUndefined();
    }
  });
});
