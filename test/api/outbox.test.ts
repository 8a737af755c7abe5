import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import { insertEventRow, readEventRow } from '../support/rows';

/** Nothing listens here: the API's view of a Temporal outage. */
const UNREACHABLE_TEMPORAL = '127.0.0.1:1';

describe('outbox: events accepted while Temporal is unreachable', () => {
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase(ownDatabaseName('outbox'));
  });

  it('answers 202 waiting, then the relay starts the workflows once Temporal is back', async () => {
    const down = await Harness.start({
      databaseUrl,
      apiTemporalAddress: UNREACHABLE_TEMPORAL,
      noWorker: true,
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
      expect(single.body.status).toBe('waiting');
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
      // An outage costs a client seconds at most, not the default gRPC connect timeout.
      expect(Date.now() - started).toBeLessThan(15_000);
      const got = await down.request('GET', `/api/v1/events/${single.body.event_id}`, { token });
      expect(got.body.status).toBe('waiting');
    } finally {
      await down.close();
    }

    const up = await Harness.start({ databaseUrl, outboxRelay: true });
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
    const h = await Harness.start({ databaseUrl, outboxRelay: true });
    try {
      const { id: userId } = await h.createUser();
      // As if the API crashed between commit and start: `received`, and no workflow.
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      const deadline = Date.now() + 20_000;
      while ((await readEventRow(h.orm, id)).status !== 'processed') {
        if (Date.now() > deadline) throw new Error('the relay did not start the workflow');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await h.close();
    }
  }, 30_000);
});
