import { createEventWorkflowStarter } from '../../src/temporal/event-workflows';
import { startOutbox, type OutboxItem } from '../../src/events/outbox';
import { createLogger } from '../../src/logger';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import { insertEventRow, readEventRow } from '../support/rows';

/** Nothing listens here: the API's view of a Temporal outage. */
const UNREACHABLE_TEMPORAL = '127.0.0.1:1';

async function waitForStatus(h: Harness, ids: string[], status: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    while ((await readEventRow(h.orm, id)).status !== status) {
      if (Date.now() > deadline) throw new Error(`event ${id} did not become ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('outbox: workflows start after the answer', () => {
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase(ownDatabaseName('outbox'));
  });

  it('answers 202 received without waiting for Temporal; the sweep starts the workflows once it is back', async () => {
    const down = await Harness.start({
      databaseUrl,
      apiTemporalAddress: UNREACHABLE_TEMPORAL,
      noWorker: true,
      env: { TEMPORAL_START_TIMEOUT_MS: '5000' },
    });
    let single: any;
    let batch: any;
    let token: string;
    try {
      ({ token } = await down.createUser());
      const started = Date.now();
      single = await down.request('POST', '/api/v1/events', {
        token,
        body: { event_name: 'page_view', event_type: 'engagement', payload: { a: 1 } },
      });
      expect(single.status).toBe(202);
      expect(single.body).toEqual({
        event_id: single.body.event_id,
        workflow_id: `event-${single.body.event_id}`,
        status: 'received',
      });
      batch = await down.request('POST', '/api/v1/events/batch', {
        token,
        body: {
          events: [
            { event_name: 'a', event_type: 'b' },
            { event_name: 'c', event_type: 'd' },
          ],
        },
      });
      expect(batch.status).toBe(202);
      // Both answers came before a single start attempt could have timed out.
      expect(Date.now() - started).toBeLessThan(5000);
      const got = await down.request('GET', `/api/v1/events/${single.body.event_id}`, { token });
      expect(got.body.status).toBe('received');
    } finally {
      await down.close();
    }

    const up = await Harness.start({ databaseUrl, outboxSweep: true });
    try {
      for (const id of [single.body.event_id, ...batch.body.event_ids]) {
        const event = await up.waitForEvent(token, id, ['processed'], 20_000);
        expect(event.processed).toBe(true);
      }
    } finally {
      await up.close();
    }
  }, 60_000);

  it('starts the workflow of a committed event whose start was lost', async () => {
    const h = await Harness.start({ databaseUrl, outboxSweep: true });
    try {
      const { id: userId } = await h.createUser();
      // As if the API crashed between commit and start: `received`, and no workflow.
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      await waitForStatus(h, [id], 'processed');
    } finally {
      await h.close();
    }
  }, 30_000);

  it('marks a started workflow queued until a worker takes it', async () => {
    const h = await Harness.start({ databaseUrl, noWorker: true });
    try {
      const { token } = await h.createUser();
      const res = await h.request('POST', '/api/v1/events', {
        token,
        body: { event_name: 'page_view', event_type: 'engagement' },
      });
      expect(res.body.status).toBe('received');
      await waitForStatus(h, [res.body.event_id], 'queued');
      const described = await h.temporal.workflow.getHandle(res.body.workflow_id).describe();
      expect(described.status.name).toBe('RUNNING');
    } finally {
      await h.close();
    }
  }, 30_000);

  it('does not let one row whose start always fails hold up the others', async () => {
    const h = await Harness.start({ databaseUrl });
    const real = createEventWorkflowStarter(h.temporal, h.config);
    const failed: OutboxItem[] = [];
    let outbox: ReturnType<typeof startOutbox> | undefined;
    try {
      const { id: userId, token } = await h.createUser();
      // Inserted first, so it is the oldest row the sweep sees, on every pass.
      const bad = await insertEventRow(h.orm, { userId, payload: { bad: true } });
      const good: string[] = [];
      for (let i = 0; i < 12; i++)
        good.push(await insertEventRow(h.orm, { userId, payload: { i } }));
      // The longest names and types the API accepts: the workflow summary must still fit.
      const long = await h.request('POST', '/api/v1/events', {
        token,
        body: { event_name: 'n'.repeat(255), event_type: 'é'.repeat(255) },
      });
      expect(long.status).toBe(202);
      outbox = startOutbox({
        orm: h.orm,
        logger: createLogger('silent'),
        workflows: {
          startEvent: (e) =>
            e.id === bad ? Promise.reject(new Error('refused by the server')) : real.startEvent(e),
          startBatch: (b) => real.startBatch(b),
          countRunning: () => real.countRunning(),
        },
        intervalMs: 100,
        graceMs: 200,
        batchSize: 5,
        maxInFlight: 1000,
        startConcurrency: 1,
        onStartFailed: (item) => failed.push(item),
      });
      await waitForStatus(h, [...good, long.body.event_id], 'processed');
      expect((await readEventRow(h.orm, bad)).status).toBe('received');
      expect(failed.map((i) => i.id)).toContain(bad);
      expect(failed.every((i) => i.id === bad)).toBe(true);
    } finally {
      await outbox?.stop();
      await h.close();
    }
  }, 60_000);
});
