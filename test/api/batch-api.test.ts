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

const event = (i: number, payload: unknown = { i, page: `/p/${i}` }) => ({
  event_name: 'page_view',
  event_type: 'engagement',
  payload,
});

function deep(levels: number): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { k: v };
  return v as Record<string, unknown>;
}

async function counts(userId: string): Promise<{ events: number; batches: number }> {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ events: string; batches: string }[]>(
      `select (select count(*) from events where user_id = ?) as events,
              (select count(*) from batches where user_id = ?) as batches`,
      [userId, userId],
    );
  return { events: Number(rows[0]!.events), batches: Number(rows[0]!.batches) };
}

async function waitForBatch(token: string, batchId: string, timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await h.request('GET', `/api/v1/batches/${batchId}`, { token });
    if (res.status === 200 && res.body.status === 'completed') return res.body;
    if (Date.now() > deadline) throw new Error(`batch not completed: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('POST /api/v1/events/batch', () => {
  it('the seed example: 98 valid and 2 invalid events end 98 processed, 2 failed', async () => {
    const events = Array.from({ length: 100 }, (_, i) => event(i));
    events[17] = event(17, deep(11));
    events[63] = event(63, { blob: 'x'.repeat(1024 * 1024) });
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      batch_id: expect.any(String),
      event_ids: expect.any(Array),
      workflow_id: `batch-${res.body.batch_id}`,
    });
    expect(res.body.event_ids).toHaveLength(100);

    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({
      status: 'success',
      batch_id: res.body.batch_id,
      total_events: 100,
      processed: 98,
      failed: 2,
    });
    const failed = summary.results.filter((r: any) => r.status === 'failed');
    expect(failed).toEqual(
      expect.arrayContaining([
        {
          event_id: res.body.event_ids[17],
          status: 'failed',
          error: 'validation_error: Payload exceeds max nesting depth (10)',
        },
        {
          event_id: res.body.event_ids[63],
          status: 'failed',
          error: 'validation_error: Payload exceeds 1MB size limit',
        },
      ]),
    );

    const batch = await waitForBatch(alice.token, res.body.batch_id);
    expect(batch).toMatchObject({
      id: res.body.batch_id,
      status: 'completed',
      total_events: 100,
      counts: { received: 0, processing: 0, processed: 98, failed: 2 },
    });
    expect([...batch.event_ids].sort()).toEqual([...res.body.event_ids].sort());

    const one = await h.request('GET', `/api/v1/events/${res.body.event_ids[0]}`, {
      token: alice.token,
    });
    expect(one.body).toMatchObject({
      status: 'processed',
      batch_id: res.body.batch_id,
      properties: { original: { i: 0, page: '/p/0' }, user: { id: alice.id } },
    });
  });

  it('rejects an empty batch with 422 and stores nothing', async () => {
    const before = await counts(alice.id);
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: [] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/at least 1 event/);
    expect(await counts(alice.id)).toEqual(before);
  });

  it('rejects more events than the limit with 422 naming the limit, storing nothing', async () => {
    const before = await counts(alice.id);
    const max = h.config.api.batchMaxEvents;
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: Array.from({ length: max + 1 }, (_, i) => event(i, {})) },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toContain(`at most ${max} events`);
    expect(await counts(alice.id)).toEqual(before);
  });

  it('rejects a body over the limit with 413 naming the limit, storing nothing', async () => {
    const before = await counts(alice.id);
    const limit = h.config.api.batchMaxBodyBytes;
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: [event(0, { blob: 'x'.repeat(limit) })] },
    });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toBe(`Request body exceeds the limit of ${limit} bytes`);
    expect(await counts(alice.id)).toEqual(before);
  });

  it('rejects the whole batch when one event breaks the schema, naming its index', async () => {
    const before = await counts(alice.id);
    const events: unknown[] = [event(0), event(1), { event_type: 'x' }];
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '$.events.2.event_name' })]),
    );
    expect(await counts(alice.id)).toEqual(before);
  });

  it("answers 404 for another user's batch and for an unknown one", async () => {
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { events: [event(0)] },
    });
    expect(res.status).toBe(202);
    const other = await h.request('GET', `/api/v1/batches/${res.body.batch_id}`, {
      token: bob.token,
    });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
    const missing = await h.request('GET', '/api/v1/batches/nope', { token: alice.token });
    expect(missing.status).toBe(404);
  });
});

describe('event time', () => {
  it('corrects timestamp for client clock skew using sent_at (single event)', async () => {
    // The client's clock runs 1 hour ahead; the event happened 30 s before sending.
    const clientNow = new Date(Date.now() + 3600_000);
    const timestamp = new Date(clientNow.getTime() - 30_000);
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: {
        ...event(1),
        timestamp: timestamp.toISOString(),
        sent_at: clientNow.toISOString(),
      },
    });
    expect(res.status).toBe(202);
    const e = (
      await h.request('GET', `/api/v1/events/${res.body.event_id}`, { token: alice.token })
    ).body;
    expect(e.timestamp).toBe(timestamp.toISOString());
    expect(e.sent_at).toBe(clientNow.toISOString());
    expect(Date.parse(e.received_at) - Date.parse(e.event_time)).toBe(30_000);
  });

  it('uses timestamp alone when sent_at is absent, and received_at when both are', async () => {
    const withTs = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event(2), timestamp: '2025-12-18T12:30:00+02:00' },
    });
    const a = (
      await h.request('GET', `/api/v1/events/${withTs.body.event_id}`, { token: alice.token })
    ).body;
    expect(a.event_time).toBe('2025-12-18T10:30:00.000Z');

    const without = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: event(3),
    });
    const b = (
      await h.request('GET', `/api/v1/events/${without.body.event_id}`, { token: alice.token })
    ).body;
    expect(b.timestamp).toBeNull();
    expect(b.event_time).toBe(b.received_at);
  });

  it('applies the request sent_at to every event of a batch', async () => {
    const sentAt = new Date(Date.now() - 7200_000); // a clock 2 hours behind
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: {
        sent_at: sentAt.toISOString(),
        events: [
          { ...event(0), timestamp: new Date(sentAt.getTime() - 1000).toISOString() },
          { ...event(1), timestamp: new Date(sentAt.getTime() - 2000).toISOString() },
          event(2),
        ],
      },
    });
    expect(res.status).toBe(202);
    const got = await Promise.all(
      res.body.event_ids.map(
        async (id: string) =>
          (await h.request('GET', `/api/v1/events/${id}`, { token: alice.token })).body,
      ),
    );
    expect(Date.parse(got[0].received_at) - Date.parse(got[0].event_time)).toBe(1000);
    expect(Date.parse(got[1].received_at) - Date.parse(got[1].event_time)).toBe(2000);
    expect(got[2].event_time).toBe(got[2].received_at);
  });

  it.each([
    'yesterday',
    '2025-13-01T00:00:00Z',
    '2025-12-18',
    '1734516000',
    '2025-12-18T25:00:00Z',
  ])('rejects the unparseable timestamp %p with 422', async (timestamp) => {
    const res = await h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { ...event(0), timestamp },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].path).toBe('$.timestamp');
  });

  it('rejects an unparseable sent_at in a batch with 422', async () => {
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: alice.token,
      body: { sent_at: 'soon', events: [event(0)] },
    });
    expect(res.status).toBe(422);
    expect(res.body.error.details[0].path).toBe('$.sent_at');
  });
});
