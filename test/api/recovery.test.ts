import type { createActivities } from '../../activities';
import { Harness } from '../support/harness';

type Activities = ReturnType<typeof createActivities>;

/** A database outage that the test switches on and off, inside the real activity. */
let databaseDown = false;
const outage = (real: Activities): Activities => ({
  ...real,
  normalizePayload: async (id) => {
    if (databaseDown) throw new Error('could not connect to server: Connection refused');
    return real.normalizePayload(id);
  },
});

let h: Harness;
let alice: { id: string; token: string };
let bob: { id: string; token: string };

beforeAll(async () => {
  h = await Harness.start({ wrapActivities: outage, env: { EVENT_MAX_RETRIES: '1' } });
  alice = await h.createUser();
  bob = await h.createUser();
});
afterAll(() => h.close());

const deep = () => {
  let v: unknown = 1;
  for (let i = 0; i < 11; i++) v = { k: v };
  return v;
};

async function post(token: string, eventName: string, payload: unknown = { a: 1 }) {
  const res = await h.request('POST', '/api/v1/events', {
    token,
    body: { event_name: eventName, event_type: 'test', payload },
  });
  expect(res.status).toBe(202);
  return (await h.waitForEvent(token, res.body.event_id)) as { id: string; status: string };
}

describe('GET /api/v1/events', () => {
  let ids: { ok1: string; bad1: string; ok2: string; bad2: string };
  beforeAll(async () => {
    const user = alice.token;
    ids = {
      ok1: (await post(user, 'list_a')).id,
      bad1: (await post(user, 'list_b', deep())).id,
      ok2: (await post(user, 'list_a')).id,
      bad2: (await post(user, 'list_a', deep())).id,
    };
    await post(bob.token, 'list_a', deep());
  });

  it('lists failed events newest first, only the owner’s, without payloads', async () => {
    const res = await h.request('GET', '/api/v1/events?status=failed', { token: alice.token });
    expect(res.status).toBe(200);
    const listed = res.body.events.map((e: any) => e.id);
    expect(listed.slice(0, 2)).toEqual([ids.bad2, ids.bad1]);
    expect(res.body.events.every((e: any) => e.status === 'failed')).toBe(true);
    expect(res.body.events[0]).not.toHaveProperty('payload');
    expect(res.body.events[0].processing_error).toMatch(/^validation_error: /);
  });

  it('filters by event_name and status together', async () => {
    const res = await h.request('GET', '/api/v1/events?status=failed&event_name=list_a', {
      token: alice.token,
    });
    expect(res.body.events.map((e: any) => e.id)).toEqual([ids.bad2]);
  });

  it('pages with a cursor until next_cursor is null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/events?event_type=test&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await h.request('GET', q, { token: alice.token });
      expect(res.body.events.length).toBeLessThanOrEqual(1);
      seen.push(...res.body.events.map((e: any) => e.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(expect.arrayContaining(Object.values(ids)));
    expect([...seen].sort().reverse()).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it.each([
    ['status=bogus', /status/],
    ['limit=0', /limit/],
    ['limit=1000', /limit/],
    ['cursor=xyz', /cursor/],
    ['colour=red', /colour/],
  ])('rejects the query %s with 422', async (query, message) => {
    const res = await h.request('GET', `/api/v1/events?${query}`, { token: alice.token });
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(message);
  });
});

describe('POST /api/v1/events/:id/reprocess', () => {
  it('runs a failed event again after the fix; earlier attempts stay visible', async () => {
    databaseDown = true;
    const failed = await post(alice.token, 'outage');
    databaseDown = false;
    expect(failed.status).toBe('failed');
    const before = (await h.request('GET', `/api/v1/events/${failed.id}`, { token: alice.token }))
      .body;
    expect(before).toMatchObject({ attempts: 1, processed: false });
    expect(before.last_error).toMatch(/could not connect to server/);

    const res = await h.request('POST', `/api/v1/events/${failed.id}/reprocess`, {
      token: alice.token,
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      event_id: failed.id,
      workflow_id: `event-${failed.id}`,
      status: 'received',
    });
    const after = await h.waitForEvent(alice.token, failed.id, ['processed']);
    expect(after).toMatchObject({ attempts: 2, processing_error: null, processed: true });
    expect(after.last_error).toBe(before.last_error);

    await h.workflowResult(`event-${failed.id}`);
    const runs = [];
    for await (const run of h.temporal.workflow.list({
      query: `WorkflowId = "event-${failed.id}"`,
    })) {
      runs.push(run.status.name);
    }
    expect(runs.sort()).toEqual(['COMPLETED', 'FAILED']);
  });

  it('is idempotent while a run is going on', async () => {
    databaseDown = true;
    const failed = await post(alice.token, 'outage');
    // Keep the outage on: the new run stays busy retrying while the second call arrives.
    const first = await h.request('POST', `/api/v1/events/${failed.id}/reprocess`, {
      token: alice.token,
    });
    const second = await h.request('POST', `/api/v1/events/${failed.id}/reprocess`, {
      token: alice.token,
    });
    databaseDown = false;
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.workflow_id).toBe(first.body.workflow_id);
    expect(['received', 'queued', 'processing']).toContain(second.body.status);
  });

  it('answers 409 for a processed event and 404 for an unknown or foreign one', async () => {
    const done = await post(alice.token, 'fine');
    const conflict = await h.request('POST', `/api/v1/events/${done.id}/reprocess`, {
      token: alice.token,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
    const foreign = await h.request('POST', `/api/v1/events/${done.id}/reprocess`, {
      token: bob.token,
    });
    expect(foreign.status).toBe(404);
  });
});
