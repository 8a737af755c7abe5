import { Client as PgClient } from 'pg';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';

/**
 * A listing whose statement runs past LIST_STATEMENT_TIMEOUT_MS is cancelled by PostgreSQL, so
 * one account's listing cannot hold a pooled connection; it answers 503 `query_timeout` with
 * Retry-After, which is not an outage: nothing is logged as an error and /ready stays ready.
 * A lock held on the events table makes the listing wait as long as a slow plan would. Writes
 * are not bounded by it: an insert waits for the lock and is stored.
 */
const lines: string[] = [];
let databaseUrl: string;
let h: Harness;
let alice: { id: string; token: string };

beforeAll(async () => {
  databaseUrl = await createTestDatabase(ownDatabaseName('statement_timeout'));
  h = await Harness.start({
    databaseUrl,
    noWorker: true,
    logDestination: { write: (line) => void lines.push(line) },
    env: { LOG_LEVEL: 'info', LIST_STATEMENT_TIMEOUT_MS: '500' },
  });
  alice = await h.createUser();
}, 60_000);
afterAll(() => h.close());

/** Runs `during` while another session holds an exclusive lock on the events table. */
async function whileEventsLocked(during: () => Promise<void>): Promise<void> {
  const locker = new PgClient({ connectionString: databaseUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table events in access exclusive mode');
    await during();
  } finally {
    await locker.query('rollback').catch(() => undefined);
    await locker.end();
  }
}

/** The request, or a failure after `ms`: without a timeout it would wait for the lock forever. */
function within<T>(ms: number, request: Promise<T>): Promise<T> {
  return Promise.race([
    request,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

it('answers 503 query_timeout with Retry-After when the listing runs past the timeout', async () => {
  const created = await h.request('POST', '/api/v1/events', {
    token: alice.token,
    body: { event_name: 'a', event_type: 'b' },
  });
  expect(created.status).toBe(202);
  const from = lines.length;
  await whileEventsLocked(async () => {
    const started = Date.now();
    const res = await within(5_000, h.request('GET', '/api/v1/events', { token: alice.token }));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('query_timeout');
    expect(res.body.error.message).toMatch(/took longer than the database may spend/);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // The database is fine: readiness says so while the lock is still held.
    const ready = await within(5_000, h.request('GET', '/ready'));
    expect(ready.status).toBe(200);
  });
  const logged = lines.slice(from).map((l) => JSON.parse(l) as { level: number; msg: string });
  expect(logged).toContainEqual(
    expect.objectContaining({ level: 40, msg: 'database error: 57014 query_canceled' }),
  );
  expect(logged.filter((l) => l.level >= 50)).toEqual([]);
  expect(lines.slice(from).join('\n')).not.toMatch(/unavailable/);

  const after = await h.request('GET', '/api/v1/events', { token: alice.token });
  expect(after.status).toBe(200);
  expect(after.body.events).toHaveLength(1);
});

it('bounds the listing only: an insert waits for the lock past the timeout, and is stored', async () => {
  let accepted: Promise<{ status: number }> | undefined;
  await whileEventsLocked(async () => {
    accepted = h.request('POST', '/api/v1/events', {
      token: alice.token,
      body: { event_name: 'waited', event_type: 'b' },
    });
    await new Promise((r) => setTimeout(r, 1_500));
  });
  expect((await within(5_000, accepted!)).status).toBe(202);
  const [row] = await h.orm.em
    .fork()
    .getConnection()
    .execute<{ statement_timeout: string }[]>('show statement_timeout');
  expect(row!.statement_timeout).toBe('0');
});
