import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { eventWorkflowId, batchWorkflowId } from '../../src/temporal/workflow-ids';
import { createTestDatabase, ownDatabaseName, adminDatabaseUrl } from '../setup/databases';
import { Harness } from '../support/harness';

/**
 * Query-time database failures whose driver messages would carry SQL and payloads: none of it
 * may reach the logs, Temporal history, or what the API returns. A trigger raises with the
 * data it sees (as a careless constraint or audit function might), on top of the statement
 * text MikroORM and knex put into their messages.
 */

/** Text that is in every payload of this test, and must be nowhere else. */
const SECRET = `SECRET-${randomUUID()}`;
/** What statements look like in a message. */
const SQL = /insert into|update\s+"?events|select\s.+\sfrom|returning/i;

const lines: string[] = [];
const logDestination = { write: (line: string) => void lines.push(line) };

let databaseUrl: string;
let h: Harness;
let user: { id: string; token: string };

async function sql(query: string): Promise<void> {
  const client = new PgClient({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase(ownDatabaseName('safe_errors'));
  // Normalizing writes `properties`; the trigger refuses it, echoing the row's data.
  // Normalizing writes `properties`; the trigger refuses that (and one insert), echoing the
  // row's data in its message.
  await sql(`
    create function refuse_row() returns trigger language plpgsql as $$
    begin
      raise exception 'refused row %', new::text;
    end $$;
    create trigger refuse_normalized before update of properties on events for each row
      when (new.properties is not null and new.event_name like 'refuse_%')
      execute function refuse_row();
    create trigger refuse_insert before insert on events for each row
      when (new.event_name = 'reject_insert') execute function refuse_row();
    create function refuse_value() returns trigger language plpgsql as $$
    begin
      raise exception 'refused value %', new::text using errcode = '22007';
    end $$;
    create trigger refuse_value before insert on events for each row
      when (new.event_name = 'refuse_value') execute function refuse_value();`);
  h = await Harness.start({
    databaseUrl,
    logDestination,
    env: { LOG_LEVEL: 'debug', EVENT_MAX_RETRIES: '1' },
  });
  user = await h.createUser();
}, 60_000);
afterAll(() => h.close());

/** Every string Temporal stored for a run, with payloads decoded. */
async function historyText(workflowId: string): Promise<string> {
  const history = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
  return JSON.stringify(history, (_k, v: unknown) =>
    v instanceof Uint8Array
      ? Buffer.from(v).toString('utf8')
      : typeof v === 'bigint'
        ? String(v)
        : v,
  );
}

function expectClean(text: string): void {
  expect(text).not.toContain(SECRET);
  expect(text).not.toMatch(SQL);
}

describe('database errors during processing', () => {
  it('a failing normalize records a short reason, not SQL or payload', async () => {
    const accepted = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'refuse_single', event_type: 'test', payload: { note: SECRET } },
    });
    expect(accepted.status).toBe(202);
    const event = await h.waitForEvent(user.token, accepted.body.event_id, ['failed']);
    expect(event.processing_error).toMatch(/database error: P0001 raise_exception/);
    expectClean(event.processing_error + event.last_error);
    const history = await historyText(eventWorkflowId(event.id));
    expect(history).toMatch(/database error: P0001/);
    expectClean(history);
  }, 60_000);

  it('a failing batch step records a short reason for every event', async () => {
    const accepted = await h.request('POST', '/api/v1/events/batch', {
      token: user.token,
      body: {
        events: [1, 2].map((n) => ({
          event_name: 'refuse_batch',
          event_type: 'test',
          payload: { note: SECRET, n },
        })),
      },
    });
    expect(accepted.status).toBe(202);
    for (const id of accepted.body.event_ids as string[]) {
      const event = await h.waitForEvent(user.token, id, ['failed']);
      expect(event.last_error).toMatch(/database error: P0001 raise_exception/);
      expectClean(event.processing_error + event.last_error);
    }
    expectClean(await historyText(batchWorkflowId(accepted.body.batch_id)));
  }, 60_000);

  it('a failing batch insert answers 500 and logs codes, not the statement', async () => {
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: user.token,
      body: {
        events: [
          { event_name: 'reject_insert', event_type: 'test', payload: { note: SECRET } },
          { event_name: 'fine', event_type: 'test', payload: { note: SECRET } },
        ],
      },
    });
    expect(res.status).toBe(500);
    expectClean(JSON.stringify(res.body));
    expect(lines.some((l) => l.includes('database error: P0001 raise_exception'))).toBe(true);
  });

  it('a value the database refuses answers 422, not an outage, and logs no error', async () => {
    const from = lines.length;
    const res = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'refuse_value', event_type: 'test', payload: { note: SECRET } },
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toEqual({
      code: 'validation_error',
      message: expect.stringMatching(/database refused a value .*22007 invalid_datetime_format/),
    });
    expect(res.headers.get('retry-after')).toBeNull();
    expectClean(JSON.stringify(res.body));
    const logged = lines.slice(from).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'database error: 22007 invalid_datetime_format' }),
    );
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
  });

  it('no log line carries SQL or payload text', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expectClean(line);
  });
});

describe('the database going away', () => {
  it('answers 503 with Retry-After, and /ready names the database and why', async () => {
    const name = ownDatabaseName('safe_errors_dropped');
    const url = await createTestDatabase(name);
    const own = await Harness.start({ databaseUrl: url, noWorker: true, logDestination });
    try {
      const alice = await own.createUser();
      const ok = await own.request('POST', '/api/v1/events', {
        token: alice.token,
        body: { event_name: 'before', event_type: 'test', payload: { note: SECRET } },
      });
      expect(ok.status).toBe(202);
      // Terminates the API's connections too, as a database restart or failover would.
      const admin = new PgClient({ connectionString: adminDatabaseUrl() });
      await admin.connect();
      await admin.query(`drop database "${name}" with (force)`);
      await admin.end();

      for (const path of ['/api/v1/events', '/api/v1/events/batch']) {
        const res = await own.request('POST', path, {
          token: alice.token,
          body:
            path === '/api/v1/events'
              ? { event_name: 'after', event_type: 'test', payload: { note: SECRET } }
              : { events: [{ event_name: 'after', event_type: 'test', payload: {} }] },
        });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(res.body.error.code).toBe('service_unavailable');
      }
      // A malformed token is refused by its shape, before any query: 401, not 503.
      const malformed = await own.request('GET', '/api/v1/events', { token: 'not-a-token' });
      expect(malformed.status).toBe(401);
      const ready = await own.request('GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.database).toBe('unavailable');
      expect(ready.body.reasons.database).toMatch(/^database error: /);
      expect(ready.body.reasons.temporal).toBeUndefined();
      for (const line of lines) expectClean(line);
    } finally {
      await own.close();
    }
  }, 60_000);
});
