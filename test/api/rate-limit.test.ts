import { Harness } from '../support/harness';

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
        /^Rate limit of 5 requests per minute exceeded; retry after \d+ s$/,
      ),
    });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12);
    expect((await get(bob.token)).status).toBe(404);
  });
});
