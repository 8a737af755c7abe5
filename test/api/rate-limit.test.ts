import { Harness } from '../support/harness';
import { basicAuth } from '../support/tracking';

describe('per-user rate limiting', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ env: { RATE_LIMIT_PER_MINUTE: '5' }, noWorker: true });
  });
  afterAll(() => h.close());

  it('answers 429 with Retry-After past the limit, per user', async () => {
    const alice = await h.createUser();
    const bob = await h.createUser();
    const get = (token: string) =>
      h.request('GET', '/api/v1/events/01a2f000-0000-7000-8000-000000000000', { token });
    for (let i = 0; i < 5; i++) expect((await get(alice.token)).status).toBe(404);
    const limited = await get(alice.token);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toEqual({
      code: 'rate_limited',
      message: expect.stringMatching(
        /^Rate limit of 5 events per minute exceeded; retry after \d+ s$/,
      ),
    });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect((await get(bob.token)).status).toBe(404);
  });

  it('counts the events of a batch, not the request', async () => {
    const carol = await h.createUser();
    const batch = (n: number) =>
      h.request('POST', '/api/v1/events/batch', {
        token: carol.token,
        body: {
          events: Array.from({ length: n }, () => ({ event_name: 'e', event_type: 't' })),
        },
      });
    expect((await batch(3)).status).toBe(202);
    const limited = await batch(3);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('lets a batch larger than a minute through from a full bucket, then holds the rest', async () => {
    const dave = await h.createUser();
    const big = await h.request('POST', '/api/v1/events/batch', {
      token: dave.token,
      body: { events: Array.from({ length: 8 }, () => ({ event_name: 'e', event_type: 't' })) },
    });
    expect(big.status).toBe(202);
    const next = await h.request('GET', '/api/v1/events', { token: dave.token });
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(12);
  });

  it('counts each message of a tracking batch, on every batch route', async () => {
    const erin = await h.createUser();
    const batch = (path: string, n: number) =>
      h.request('POST', path, {
        headers: { authorization: basicAuth(erin.token) },
        body: {
          batch: Array.from({ length: n }, () => ({ type: 'track', event: 'e', userId: 'u' })),
        },
      });
    expect((await batch('/v1/batch', 3)).status).toBe(200);
    const limited = await batch('/v1/b', 3);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Single calls cost one message each, from the same bucket: the refused batch paid for
    // its arrival, which leaves one.
    const one = () =>
      h.request('POST', '/v1/track', {
        headers: { authorization: basicAuth(erin.token) },
        body: { event: 'e', userId: 'u' },
      });
    expect((await one()).status).toBe(200);
    expect((await one()).status).toBe(429);
  });

  it('charges a key sent in the body as one sent in a header', async () => {
    const fred = await h.createUser();
    const call = () =>
      h.request('POST', '/v1/t', {
        headers: { 'content-type': 'text/plain' },
        body: { event: 'e', userId: 'u', writeKey: fred.token },
      });
    for (let i = 0; i < 5; i++) expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(429);
  });
});
