import { randomUUID } from 'node:crypto';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import { readEventRow } from '../support/rows';
import { basicAuth } from '../support/tracking';

async function countByStatus(h: Harness, userId: string): Promise<Record<string, number>> {
  const rows = await h.orm.em
    .fork()
    .execute<{ status: string; n: number }[]>(
      `select status, count(*)::int as n from events where user_id = ? group by status`,
      [userId],
    );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const event = (i: number) => ({
  event_name: 'page_view',
  event_type: 'engagement',
  payload: { i },
});

describe('a backlog waits in PostgreSQL, and is not a failure', () => {
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase(ownDatabaseName('backlog'));
  });

  it('keeps at most OUTBOX_MAX_IN_FLIGHT workflows in Temporal, refuses past ADMISSION_MAX_BACKLOG, then drains', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const env = {
      TEMPORAL_TASK_QUEUE: taskQueue,
      OUTBOX_MAX_IN_FLIGHT: '5',
      ADMISSION_MAX_BACKLOG: '10',
    };
    const held = await Harness.start({ databaseUrl, noWorker: true, env });
    let token: string;
    let userId: string;
    const accepted: string[] = [];
    try {
      ({ token, id: userId } = await held.createUser());
      for (let i = 0; i < 15; i++) {
        const res = await held.request('POST', '/api/v1/events', { token, body: event(i) });
        expect(res.status).toBe(202);
        accepted.push(res.body.event_id);
      }
      // No worker: five workflows wait in Temporal, the other ten in PostgreSQL.
      await until('five are queued', async () => (await countByStatus(held, userId)).queued === 5);
      expect(await countByStatus(held, userId)).toEqual({ queued: 5, received: 10 });

      await until('the backlog is seen', async () => held.outbox.stats().unstarted >= 10);
      // Starts count twice until Temporal's count has surely caught up with them (a second or
      // two); then the figure is Temporal's own, and stays there.
      await until('the running count settles', async () => held.outbox.stats().inFlight === 5);
      await new Promise((r) => setTimeout(r, 2500));
      expect(await countByStatus(held, userId)).toEqual({ queued: 5, received: 10 });
      const refused = await held.request('POST', '/api/v1/events', { token, body: event(99) });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('backlog_full');
      expect(refused.body.error.message).toMatch(/10 events are waiting/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      const ready = await held.request('GET', '/ready');
      expect(ready.body.backlog).toEqual({
        unstarted: 10,
        oldest_age_sec: expect.any(Number),
        oldest_unfinished_age_sec: expect.any(Number),
        in_flight: 5,
      });
      const metrics = await held.request('GET', '/metrics');
      expect(metrics.body).toMatch(/^events_backlog 10$/m);
      expect(metrics.body).toMatch(/^workflows_in_flight 5$/m);
    } finally {
      await held.close();
    }

    const drain = await Harness.start({ databaseUrl, outboxSweep: true, env });
    try {
      await until(
        'every accepted event is processed',
        async () => (await countByStatus(drain, userId)).processed === accepted.length,
        60_000,
      );
    } finally {
      await drain.close();
    }
  }, 120_000);

  it('counts every workflow it started, batches and tracking groups included, until its run closes', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const env = { TEMPORAL_TASK_QUEUE: taskQueue, OUTBOX_MAX_IN_FLIGHT: '3' };
    const h = await Harness.start({ databaseUrl, noWorker: true, env });
    const running = async () =>
      (await h.temporal.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Running"`))
        .count;
    try {
      const { token } = await h.createUser();
      const batches: { batch_id: string; workflow_id: string }[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await h.request('POST', '/api/v1/events/batch', {
          token,
          body: { events: [event(2 * i), event(2 * i + 1)] },
        });
        expect(res.status).toBe(202);
        batches.push(res.body);
      }
      // A tracking message becomes a batch of its own too, after the grouping window.
      const tracked = await h.request('POST', '/v1/track', {
        headers: { authorization: basicAuth(token) },
        body: { type: 'track', event: 'Signed Up', userId: 'u-1', messageId: randomUUID() },
      });
      expect(tracked.status).toBe(200);
      const statusOf = async (batchId: string) =>
        (
          await h.orm.em
            .fork()
            .execute<{ status: string }[]>(
              `select distinct status from events where batch_id = ?`,
              [batchId],
            )
        ).map((r) => r.status);

      await until('three workflows run', async () => (await running()) === 3);
      // Longer than a count refresh and its lag allowance: admission holds the rest back.
      await new Promise((r) => setTimeout(r, 3000));
      expect(await running()).toBe(3);
      expect(await statusOf(batches[3]!.batch_id)).toEqual(['received']);
      expect(h.outbox.stats().inFlight).toBe(3);

      // A run that closes, however it closes, frees its place.
      await h.temporal.workflow.getHandle(batches[0]!.workflow_id).terminate('admission test');
      await until('the fourth batch starts', async () =>
        (await statusOf(batches[3]!.batch_id)).includes('queued'),
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(await running()).toBe(3);
    } finally {
      await h.close();
    }
  }, 90_000);

  it('counts the processing budget from the first step, not from the start of the run', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const env = { TEMPORAL_TASK_QUEUE: taskQueue, EVENT_PROCESSING_TIMEOUT: '2' };
    const queued = await Harness.start({ databaseUrl, noWorker: true, env });
    let token: string;
    let id: string;
    try {
      ({ token } = await queued.createUser());
      const res = await queued.request('POST', '/api/v1/events', { token, body: event(1) });
      id = res.body.event_id;
      await until('queued', async () => (await readEventRow(queued.orm, id)).status === 'queued');
      // Twice the budget in Temporal's queue, with no worker to take it.
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      await queued.close();
    }
    const worker = await Harness.start({ databaseUrl, env });
    try {
      const done = await worker.waitForEvent(token, id, ['processed', 'failed']);
      expect(done.status).toBe('processed');
    } finally {
      await worker.close();
    }
  }, 60_000);
});
