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

const event = { event_name: 'signup', event_type: 'conversion', payload: { plan: 'pro' } };
let n = 0;
const freshKey = () => `key-${Date.now()}-${n++}`;

async function rowsWithKey(userId: string, key: string): Promise<number> {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>(
      'select count(*) as n from events where user_id = ? and idempotency_key = ?',
      [userId, key],
    );
  return Number(rows[0]!.n);
}

async function batchCount(userId: string): Promise<number> {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ n: string }[]>('select count(*) as n from batches where user_id = ?', [userId]);
  return Number(rows[0]!.n);
}

describe('idempotency keys', () => {
  it('a repeat returns the original event with 200 and the same body shape', async () => {
    const key = freshKey();
    const first = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
    });
    expect(first.status).toBe(202);
    await h.waitForEvent(alice.token, first.body.event_id);
    const again = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, payload: { plan: 'changed' }, idempotency_key: key },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, status: 'processed' });
    expect(await rowsWithKey(alice.id, key)).toBe(1);
  });

  it('takes the key from the Idempotency-Key header too', async () => {
    const key = freshKey();
    const headers = { 'idempotency-key': key };
    const first = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: event,
      headers,
    });
    const again = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
      headers,
    });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(again.body.event_id).toBe(first.body.event_id);
  });

  it('rejects a header and body key that differ, and an over-long header key', async () => {
    const differ = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: 'a' },
      headers: { 'idempotency-key': 'b' },
    });
    expect(differ.status).toBe(422);
    expect(differ.body.error.message).toMatch(/differ/);
    const long = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: event,
      headers: { 'idempotency-key': 'k'.repeat(256) },
    });
    expect(long.status).toBe(422);
    expect(long.body.error.message).toMatch(/^Idempotency-Key header is invalid/);
  });

  it('twenty concurrent requests with one key make one event', async () => {
    const key = freshKey();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.request('POST', '/api/v1/events', {
          token: alice.token,
          body: { ...event, idempotency_key: key },
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect(new Set(answers.map((a) => a.body.event_id)).size).toBe(1);
    expect(await rowsWithKey(alice.id, key)).toBe(1);
    const processed = await h.waitForEvent(alice.token, answers[0]!.body.event_id);
    expect(processed.status).toBe('processed');
  });

  it('keys belong to their user: the same key makes one event per user', async () => {
    const key = freshKey();
    const a = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
    });
    const b = await h.request('POST', '/api/v1/events', {
      token: bob.token,
      body: { ...event, idempotency_key: key },
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.event_id).not.toBe(b.body.event_id);
  });

  it('in a batch, a key used before resolves to the existing event', async () => {
    const old = freshKey();
    const first = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: old },
    });
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: {
        events: [
          { ...event, idempotency_key: freshKey() },
          { ...event, idempotency_key: old },
          { ...event },
        ],
      },
    });
    expect(res.status).toBe(202);
    expect(res.body.event_ids).toHaveLength(3);
    expect(res.body.event_ids[1]).toBe(first.body.event_id);
    expect(await rowsWithKey(alice.id, old)).toBe(1);
    await h.temporal.workflow.getHandle(res.body.workflow_id).result();
    const batch = await h.request('GET', `/api/v1/batches/${res.body.batch_id}`, {
      token: alice.token,
    });
    expect(batch.body).toMatchObject({ total_events: 2, status: 'completed' });
    expect(batch.body.event_ids).not.toContain(first.body.event_id);
  });

  it('a batch made only of repeats stores no event and starts nothing', async () => {
    const key = freshKey();
    const first = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
    });
    const batchesBefore = await batchCount(alice.id);
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: [{ ...event, idempotency_key: key }] },
    });
    // Like the single endpoint: 200 names the existing events, and no empty batch is stored.
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      batch_id: null,
      event_ids: [first.body.event_id],
      workflow_id: null,
    });
    expect(await batchCount(alice.id)).toBe(batchesBefore);
  });

  it('rejects duplicate keys within one batch with 422, storing nothing', async () => {
    const key = freshKey();
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: {
        events: [{ ...event, idempotency_key: key }, event, { ...event, idempotency_key: key }],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual([
      expect.objectContaining({
        path: '$.events.2.idempotency_key',
        message: 'repeats the idempotency_key of events[0]',
      }),
    ]);
    expect(await rowsWithKey(alice.id, key)).toBe(0);
  });
});
