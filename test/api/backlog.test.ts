import { randomUUID } from 'node:crypto';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import { readEventRow } from '../support/rows';

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
      const refused = await held.request('POST', '/api/v1/events', { token, body: event(99) });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('backlog_full');
      expect(refused.body.error.message).toMatch(/10 events are waiting/);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

      const ready = await held.request('GET', '/ready');
      expect(ready.body.backlog).toEqual({
        unstarted: 10,
        oldest_age_sec: expect.any(Number),
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
