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
      // Key order and `sent_at` are not part of what a key promises.
      body: { idempotency_key: key, ...event, sent_at: new Date().toISOString() },
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
    await h.workflowResult(res.body.workflow_id);
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

describe('a key reused with a different body', () => {
  it('answers 422 naming the key, for a single event', async () => {
    const key = freshKey();
    const first = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
    });
    expect(first.status).toBe(202);
    const reused = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, payload: { plan: 'changed' } },
      headers: { 'idempotency-key': key },
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(reused.body.error.details).toEqual([
      expect.objectContaining({ path: '$.idempotency_key' }),
    ]);
    expect(await rowsWithKey(alice.id, key)).toBe(1);
  });

  it('answers 422 naming the event, for a batch, and stores none of it', async () => {
    const key = freshKey();
    await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event, idempotency_key: key },
    });
    const fresh = freshKey();
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: {
        events: [
          { ...event, idempotency_key: fresh },
          { ...event, event_name: 'other', idempotency_key: key },
        ],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect(res.body.error.details).toEqual([
      expect.objectContaining({ path: '$.events.1.idempotency_key' }),
    ]);
    expect(await rowsWithKey(alice.id, fresh)).toBe(0);
  });
});

describe('the Idempotency-Key header on a batch', () => {
  const batch = {
    events: [
      { ...event, payload: { n: 1 } },
      { ...event, payload: { n: 2 } },
      { ...event, payload: { n: 1 } },
    ],
  };
  const batchesWithKey = async (userId: string, key: string) =>
    Number(
      (
        await h.orm.em
          .fork()
          .getConnection()
          .execute<{ n: string }[]>(
            'select count(*) as n from batches where user_id = ? and idempotency_key = ?',
            [userId, key],
          )
      )[0]!.n,
    );

  it('a retry answers 200 with the original batch and stores nothing twice', async () => {
    const key = freshKey();
    const headers = { 'idempotency-key': key };
    const first = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: batch,
      headers,
    });
    expect(first.status).toBe(202);
    expect(Object.keys(first.body).sort()).toEqual(['batch_id', 'event_ids', 'workflow_id']);
    const again = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { ...batch, sent_at: new Date().toISOString() },
      headers,
    });
    expect(again.status).toBe(200);
    // Events 0 and 2 are equal twins: which of the two ids each gets back is immaterial.
    expect({ ...again.body, event_ids: [...again.body.event_ids].sort() }).toEqual({
      ...first.body,
      event_ids: [...first.body.event_ids].sort(),
    });
    expect(again.body.event_ids[1]).toBe(first.body.event_ids[1]);
    expect(await batchesWithKey(alice.id, key)).toBe(1);
    // Another user's batch key is their own.
    const other = await h.request('POST', '/api/v1/events/batch', {
      token: bob.token,
      body: batch,
      headers,
    });
    expect(other.status).toBe(202);
  });

  it('with other events answers 422 naming the header', async () => {
    const key = freshKey();
    const headers = { 'idempotency-key': key };
    await h.request('POST', '/api/v1/events/batch', { token: alice.token, body: batch, headers });
    const reused = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: batch.events.slice(1) },
      headers,
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({
      code: 'idempotency_key_reused',
      details: [expect.objectContaining({ path: 'Idempotency-Key header' })],
    });
  });

  it('ten concurrent retries make one batch', async () => {
    const key = freshKey();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        h.request('POST', '/api/v1/events/batch', {
          token: alice.token,
          body: batch,
          headers: { 'idempotency-key': key },
        }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(9).fill(200), 202]);
    expect(new Set(answers.map((a) => a.body.batch_id)).size).toBe(1);
    expect(new Set(answers.map((a) => [...a.body.event_ids].sort().join())).size).toBe(1);
    expect(await batchesWithKey(alice.id, key)).toBe(1);
  });
});

describe('concurrent batches naming the same keys in opposite orders', () => {
  it('neither deadlocks: every request answers 2xx and each key names one event', async () => {
    const rounds = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const keys = Array.from({ length: 500 }, () => freshKey());
        const send = (order: string[]) =>
          h.request('POST', '/api/v1/events/batch', {
            token: alice.token,
            body: { events: order.map((k) => ({ ...event, idempotency_key: k })) },
          });
        const answers = await Promise.all([send(keys), send([...keys].reverse())]);
        return { keys, answers };
      }),
    );
    for (const { keys, answers } of rounds) {
      // Each stores what was new when it committed; the later one may find every key known.
      expect(answers.map((a) => a.status)).toContain(202);
      expect(answers.every((a) => a.status === 202 || a.status === 200)).toBe(true);
      const [forward, backward] = answers.map((a) => a.body.event_ids as string[]);
      expect(forward).toEqual([...backward!].reverse());
      expect(await rowsWithKey(alice.id, keys[0]!)).toBe(1);
    }
  });
});
