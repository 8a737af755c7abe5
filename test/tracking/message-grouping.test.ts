import { randomUUID } from 'node:crypto';
import { Harness } from '../support/harness';
import {
  batchRows,
  finishedRows,
  msBetween,
  postTracking,
  trackMessage,
  expectEachInOneBatch,
} from '../support/grouping';

/**
 * How the relay groups tracking messages: per user, at most TRACKING_GROUP_MAX_MESSAGES to a
 * group, formed once that many wait or the oldest has waited TRACKING_GROUP_WINDOW_MS; each
 * group a batch processed by its own workflow. Over real HTTP, read back from the rows.
 */
const MAX = 10;
const WINDOW_MS = 1500;

describe('groups by size and by window', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({
      env: {
        TRACKING_GROUP_MAX_MESSAGES: String(MAX),
        TRACKING_GROUP_WINDOW_MS: String(WINDOW_MS),
      },
    });
  });
  afterAll(() => h.close());

  it('cuts 25 waiting messages into groups of 10, 10 and 5; the 5 once the window is over', async () => {
    const user = await h.createUser();
    const batch = Array.from({ length: 25 }, (_, i) => trackMessage({ properties: { i } }));
    const res = await postTracking(h, user.token, '/v1/batch', { batch });
    expect(res).toEqual({ status: 200, body: { success: true } });

    const events = await finishedRows(h, user.id, 25);
    expect(events.every((e) => e.status === 'processed')).toBe(true);
    const batches = await batchRows(h, user.id);
    expect(batches.map((b) => b.event_count)).toEqual([10, 10, 5]);
    expectEachInOneBatch(events, batches);
    // The oldest ten first: a group takes a user's messages in the order they came.
    const ids = events.map((e) => e.id);
    expect(events.slice(0, 10).every((e) => e.batch_id === batches[0]!.id)).toBe(true);
    expect(new Set(ids).size).toBe(25);

    const arrived = events[0]!.created_at;
    // Two full groups form at once; the five left wait for the window of the oldest of them.
    expect(msBetween(arrived, batches[0]!.created_at)).toBeLessThan(WINDOW_MS);
    expect(msBetween(arrived, batches[1]!.created_at)).toBeLessThan(WINDOW_MS);
    expect(msBetween(arrived, batches[2]!.created_at)).toBeGreaterThanOrEqual(WINDOW_MS);

    for (const b of batches) {
      const result = await h.workflowResult(b.workflow_id);
      expect(result).toMatchObject({ batch_id: b.id, total_events: b.event_count, failed: 0 });
    }
  });

  it('puts messages sent one by one within the window in one group, formed once the window is over', async () => {
    const user = await h.createUser();
    const sent: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await postTracking(
        h,
        user.token,
        '/v1/track',
        trackMessage({ properties: { i } }),
      );
      expect(res.status).toBe(200);
      sent.push(Date.now());
    }
    // All four were answered before the first could have been grouped.
    expect(sent[3]! - sent[0]!).toBeLessThan(WINDOW_MS);

    const events = await finishedRows(h, user.id, 4);
    const [group] = await batchRows(h, user.id);
    expect(await batchRows(h, user.id)).toHaveLength(1);
    expect(group!.event_count).toBe(4);
    expectEachInOneBatch(events, [group!]);
    const oldest = events[0]!.created_at;
    expect(msBetween(oldest, group!.created_at)).toBeGreaterThanOrEqual(WINDOW_MS);
    expect(msBetween(oldest, group!.created_at)).toBeLessThan(WINDOW_MS + 5000);

    // Sent after that group formed: a group of its own, with a window of its own.
    const res = await postTracking(h, user.token, '/v1/t', trackMessage({ event: 'Later' }));
    expect(res.status).toBe(200);
    const all = await finishedRows(h, user.id, 5);
    const batches = await batchRows(h, user.id);
    expect(batches.map((b) => b.event_count)).toEqual([4, 1]);
    expectEachInOneBatch(all, batches);
    const later = all[4]!;
    expect(later.batch_id).toBe(batches[1]!.id);
    expect(msBetween(later.created_at, batches[1]!.created_at)).toBeGreaterThanOrEqual(WINDOW_MS);
  });

  it('stores and processes a messageId repeated across requests, even concurrent ones, once', async () => {
    const user = await h.createUser();
    const repeated = trackMessage({ event: 'Repeated' });
    const first = await postTracking(h, user.token, '/v1/batch', {
      batch: [repeated, trackMessage()],
    });
    expect(first.status).toBe(200);
    expect((await postTracking(h, user.token, '/v1/batch', { batch: [repeated] })).status).toBe(
      200,
    );
    expect((await postTracking(h, user.token, '/v1/track', repeated)).status).toBe(200);

    const concurrent = trackMessage({ event: 'Concurrent' });
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () =>
        postTracking(h, user.token, '/v1/batch', { batch: [concurrent] }),
      ),
      ...Array.from({ length: 4 }, () => postTracking(h, user.token, '/v1/track', concurrent)),
    ]);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));

    const events = await finishedRows(h, user.id, 3);
    expect(events).toHaveLength(3);
    expect(events.filter((e) => e.message_id === repeated.messageId)).toHaveLength(1);
    expect(events.filter((e) => e.message_id === concurrent.messageId)).toHaveLength(1);
    expect(events.every((e) => e.status === 'processed')).toBe(true);
    expectEachInOneBatch(events, await batchRows(h, user.id));
  });

  it('keeps REST idempotency keys and messageIds apart: a key equal to a messageId swallows nothing', async () => {
    const user = await h.createUser();
    // A message first, then a REST event whose key is that messageId...
    const message = trackMessage({ event: 'From the SDK' });
    expect((await postTracking(h, user.token, '/v1/track', message)).status).toBe(200);
    const rest = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'from_rest', event_type: 'test', idempotency_key: message.messageId },
    });
    expect(rest.status).toBe(202);
    // ...and a REST event first, then a message whose messageId is that key.
    const key = randomUUID();
    const restFirst = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'rest_first', event_type: 'test', idempotency_key: key },
    });
    expect(restFirst.status).toBe(202);
    const sdk = await postTracking(h, user.token, '/v1/batch', {
      batch: [trackMessage({ event: 'SDK second', messageId: key })],
    });
    expect(sdk).toEqual({ status: 200, body: { success: true } });

    const events = await finishedRows(h, user.id, 4);
    expect(events.every((e) => e.status === 'processed')).toBe(true);
    const keyed = (column: 'message_id' | 'idempotency_key', value: string) =>
      events.filter((e) => e[column] === value).map((e) => e.id);
    expect(keyed('message_id', message.messageId)).toHaveLength(1);
    expect(keyed('idempotency_key', message.messageId)).toEqual([rest.body.event_id]);
    expect(keyed('message_id', key)).toHaveLength(1);
    expect(keyed('idempotency_key', key)).toEqual([restFirst.body.event_id]);
    // The REST events kept their own workflows; the messages went to groups.
    expect(events.find((e) => e.id === rest.body.event_id)!.workflow_id).toBe(
      rest.body.workflow_id,
    );
    // A repeat of the REST key still answers with the REST event.
    const again = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'rest_first', event_type: 'test', idempotency_key: key },
    });
    expect(again.status).toBe(200);
    expect(again.body.event_id).toBe(restFirst.body.event_id);
  });
});

describe("an event's GET names the workflow of its group", () => {
  let h: Harness;
  beforeAll(async () => {
    // A window no test waits out: only a full group forms.
    h = await Harness.start({
      env: { TRACKING_GROUP_MAX_MESSAGES: String(MAX), TRACKING_GROUP_WINDOW_MS: '60000' },
    });
  });
  afterAll(() => h.close());

  it('is null while the message waits, and batch-<batch_id> once grouped', async () => {
    const user = await h.createUser();
    const anonymousId = randomUUID();
    const res = await postTracking(h, user.token, '/v1/track', trackMessage({ anonymousId }));
    expect(res.status).toBe(200);
    const listed = await h.request('GET', `/api/v1/events?anonymous_id=${anonymousId}`, {
      token: user.token,
    });
    expect(listed.body.events).toHaveLength(1);
    const id: string = listed.body.events[0].id;
    expect(listed.body.events[0]).toMatchObject({ workflow_id: null, batch_id: null });
    const waiting = await h.request('GET', `/api/v1/events/${id}`, { token: user.token });
    expect(waiting.body).toMatchObject({ status: 'received', workflow_id: null, batch_id: null });

    // Nine more fill the group, which forms at once.
    const more = Array.from({ length: MAX - 1 }, () => trackMessage({ anonymousId }));
    expect((await postTracking(h, user.token, '/v1/batch', { batch: more })).status).toBe(200);
    const done = await h.waitForEvent(user.token, id, ['processed'], 20_000);
    expect(done.batch_id).toEqual(expect.any(String));
    expect(done.workflow_id).toBe(`batch-${done.batch_id}`);
    const result = await h.workflowResult(done.workflow_id);
    expect(result).toMatchObject({ batch_id: done.batch_id, total_events: MAX, processed: MAX });
    const batch = await h.request('GET', `/api/v1/batches/${done.batch_id}`, {
      token: user.token,
    });
    expect(batch.status).toBe(200);
    expect(batch.body.workflow_id).toBe(done.workflow_id);
  });
});
