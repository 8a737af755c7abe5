import { randomUUID } from 'node:crypto';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Client as PgClient } from 'pg';
import { traceQueries } from '../../src/db/query-tracing';
import { createSql, type Sql } from '../../src/db/sql';
import { newEventRow, type Placement } from '../../src/events/event-rows';
import type { InsertableEvent } from '../../src/events/event-insert';
import { createGroupCommit, type GroupCommitLimits } from '../../src/events/group-commit';
import { startTracing, type Tracing } from '../../src/tracing';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness, type ApiResponse } from '../support/harness';
import { eventRows, postTracking, trackMessage, until } from '../support/grouping';

/**
 * Group commit: the rows of concurrent requests go to PostgreSQL as one statement. Over HTTP the
 * statements are counted from the service's own query spans; the group itself is driven
 * directly, against the real database, with a statement runner that can hold a statement so
 * that the next one surely carries several requests.
 */
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let untraceQueries: () => void;
let h: Harness;

let databaseUrl: string;

beforeAll(async () => {
  tracing = startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, 'api', { exporter })!;
  untraceQueries = traceQueries(tracing.tracer);
  // A test here locks the events table: a database of this file's own.
  databaseUrl = await createTestDatabase(ownDatabaseName('group_commit'));
  // Every request looks its key up, so that the lookups tell when all got past authentication.
  h = await Harness.start({ databaseUrl, env: { KEY_CACHE_TTL_MS: '0' } });
});
afterAll(async () => {
  await h?.close();
  untraceQueries?.();
  await tracing?.shutdown();
});

/** Statements PostgreSQL ran, since the exporter was last reset, whose text passes `test`. */
const statements = (test: (text: string) => boolean) =>
  exporter.getFinishedSpans().filter((s) => test(String(s.attributes['db.statement'] ?? '')));
const eventInserts = () => statements((text) => text.startsWith('insert into events'));
const userLookups = () => statements((text) => /from "users"/.test(text));

/**
 * Sends the requests while inserts into `events` wait for a lock, and releases it once every
 * request got past authentication and a statement waits: the requests surely arrive while
 * statements are under way, whatever the load on the machine.
 */
async function whileInsertsWait<T>(send: () => Promise<T>[]): Promise<T[]> {
  // Processing steps would wait for the lock too, each holding one of the pool's connections,
  // which the requests need to authenticate: none may be under way.
  await until('earlier events finished', async () => {
    const [row] = await createSql(h.orm)<{ n: number }>(
      `select count(*)::int as n from events where status not in ('processed', 'failed')`,
    );
    return row!.n === 0 ? true : undefined;
  });
  const locker = new PgClient({ connectionString: databaseUrl });
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table events in share row exclusive mode');
    const lookupsBefore = userLookups().length;
    const requests = send();
    const pending = Promise.all(requests);
    await until('every request authenticated, and a statement waiting for the lock', async () => {
      // A transaction sees one snapshot of the activity view unless told to take another.
      await locker.query('select pg_stat_clear_snapshot()');
      const { rows } = await locker.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like 'insert into events%'`,
      );
      const authenticated = userLookups().length - lookupsBefore >= requests.length;
      return authenticated && rows[0]!.n > 0 ? true : undefined;
    });
    await locker.query('commit');
    return await pending;
  } finally {
    await locker.end();
  }
}

describe('over HTTP', () => {
  it('stores concurrent REST events and tracking messages with fewer statements than requests', async () => {
    const user = await h.createUser();
    const N = 40;
    exporter.reset();
    const answers = await whileInsertsWait(() => [
      ...Array.from({ length: N }, (_, i) =>
        h.request('POST', '/api/v1/events', {
          token: user.token,
          body: { event_name: 'page_view', event_type: 'engagement', payload: { i } },
        }),
      ),
      ...Array.from({ length: N }, (_, i) =>
        postTracking(h, user.token, '/v1/track', trackMessage({ properties: { i } })),
      ),
    ]);
    expect(answers.slice(0, N).map((a) => a.status)).toEqual(Array(N).fill(202));
    expect(answers.slice(N).map((a) => a.status)).toEqual(Array(N).fill(200));
    // The first statements went alone; what came while they waited went together.
    const inserts = eventInserts().length;
    expect(inserts).toBeGreaterThan(0);
    expect(inserts).toBeLessThan(N / 2);

    // Every request's rows are there, and each REST answer names its own row.
    const rows = await eventRows(h, user.id);
    expect(rows).toHaveLength(2 * N);
    const ids = new Set(rows.map((r) => r.id));
    const accepted = answers.slice(0, N) as ApiResponse[];
    for (const a of accepted) {
      expect(ids.has(a.body.event_id)).toBe(true);
      expect(a.body.workflow_id).toBe(`event-${a.body.event_id}`);
    }
    expect(new Set(accepted.map((a) => a.body.event_id)).size).toBe(N);
  });

  it('answers concurrent requests repeating one idempotency key with one 202 and 200s, all naming one event', async () => {
    const user = await h.createUser();
    const key = `key-${randomUUID()}`;
    const body = { event_name: 'signup', event_type: 'conversion', idempotency_key: key };
    const answers = await whileInsertsWait(() =>
      Array.from({ length: 12 }, () =>
        h.request('POST', '/api/v1/events', { token: user.token, body }),
      ),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(11);
    const ids = new Set(answers.map((a) => a.body.event_id));
    expect(ids.size).toBe(1);
    const rows = await eventRows(h, user.id);
    expect(rows.map((r) => [r.id, r.idempotency_key])).toEqual([[[...ids][0], key]]);
  });

  it('refuses, among concurrent requests sharing a key, those whose body differs from the one stored', async () => {
    const user = await h.createUser();
    const key = `key-${randomUUID()}`;
    const bodies = Array.from({ length: 12 }, (_, i) => ({
      event_name: 'signup',
      event_type: 'conversion',
      idempotency_key: key,
      payload: { plan: i % 2 === 0 ? 'pro' : 'free' },
    }));
    const answers = await whileInsertsWait(() =>
      bodies.map((body) => h.request('POST', '/api/v1/events', { token: user.token, body })),
    );
    const winner = answers.findIndex((a) => a.status === 202);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    const plan = bodies[winner]!.payload.plan;
    answers.forEach((a, i) => {
      if (i === winner) return;
      if (bodies[i]!.payload.plan === plan) {
        expect(a).toMatchObject({
          status: 200,
          body: { event_id: answers[winner]!.body.event_id },
        });
      } else {
        expect(a).toMatchObject({ status: 422, body: { error: { code: expect.any(String) } } });
      }
    });
    expect(await eventRows(h, user.id)).toHaveLength(1);
  });
});

describe('createGroupCommit against PostgreSQL', () => {
  /** A statement runner that logs each statement's rows and can hold statements until released. */
  function gatedSql(real: Sql) {
    const log: { rows: number; ok: boolean }[] = [];
    let gate: Promise<void> | undefined;
    let open: (() => void) | undefined;
    const sql: Sql = async (text, values) => {
      const rows = (JSON.parse(String(values?.[0] ?? '[]')) as unknown[]).length;
      if (gate) await gate;
      try {
        const result = await real(text, values);
        log.push({ rows, ok: true });
        return result as never;
      } catch (err) {
        log.push({ rows, ok: false });
        throw err;
      }
    };
    return {
      sql,
      log,
      hold() {
        gate = new Promise((r) => (open = r));
      },
      release() {
        gate = undefined;
        open?.();
      },
    };
  }

  const LIMITS: GroupCommitLimits = { maxRows: 100, maxBytes: 1024 * 1024, concurrency: 1 };
  let userId: string;
  beforeAll(async () => {
    userId = (await h.createUser()).id;
  });

  const row = (
    extra: Record<string, unknown> = {},
    placement: Placement = 'own',
  ): InsertableEvent =>
    newEventRow(
      userId,
      { event_name: 'direct', event_type: 'test', payload: { a: 1 }, ...extra },
      { receivedAt: new Date() },
      placement,
    );

  /** Which of the ids PostgreSQL holds. */
  async function stored(ids: string[]): Promise<string[]> {
    const rows = await createSql(h.orm)<{ id: string }>(
      'select id from events where id = any($1::uuid[]) order by id',
      [ids],
    );
    return rows.map((r) => r.id);
  }

  it('sends what arrives during a statement as one next statement, answering each after its commit', async () => {
    const g = gatedSql(createSql(h.orm));
    const commit = createGroupCommit(g.sql, { ...LIMITS, concurrency: 2 });
    g.hold();
    const requests = Array.from({ length: 30 }, () => [row()]);
    let answered = 0;
    const pending = requests.map((rows) => commit.insert(rows).then((ids) => (answered++, ids)));
    // Two statements under way, held: nobody is answered before a commit.
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(0);
    g.release();
    const results = await Promise.all(pending);
    // Two alone, then the other 28 together.
    expect(g.log.map((s) => s.rows).sort((x, y) => x - y)).toEqual([1, 1, 28]);
    results.forEach((ids, i) => expect([...ids]).toEqual([requests[i]![0]!.id]));
    const all = requests.map((r) => r[0]!.id);
    expect(await stored(all)).toEqual([...all].sort());
  });

  it('keeps a statement within maxRows, and a request larger than that goes alone', async () => {
    const g = gatedSql(createSql(h.orm));
    const commit = createGroupCommit(g.sql, { ...LIMITS, maxRows: 5 });
    g.hold();
    const first = commit.insert([row()]);
    const rest = [
      ...Array.from({ length: 7 }, () => commit.insert([row()])),
      commit.insert(Array.from({ length: 6 }, () => row())),
      commit.insert([row()]),
    ];
    g.release();
    await Promise.all([first, ...rest]);
    expect(g.log.map((s) => s.rows)).toEqual([1, 5, 2, 6, 1]);
  });

  it.each([
    ['a payload PostgreSQL refuses (a NUL character in jsonb)', { payloadJson: '{"a":"\\u0000"}' }],
    ['a row breaking a check constraint', { status: 'bogus' }],
    ['a name longer than its column', { eventName: 'n'.repeat(300) }],
    ['a user that does not exist', { user: randomUUID() }],
  ])(
    'answers the request holding %s with its error; the others in its group are stored and answered',
    async (_what, broken) => {
      const g = gatedSql(createSql(h.orm));
      const commit = createGroupCommit(g.sql, LIMITS);
      g.hold();
      const blocker = commit.insert([row()]);
      const before = [row(), row({ idempotency_key: `k-${randomUUID()}` })];
      const bad = { ...row(), ...broken } as InsertableEvent;
      const after = [row({ message_id: randomUUID() }, 'grouped')];
      const results = [
        commit.insert(before),
        commit.insert([row(), bad]),
        commit.insert(after),
      ].map((p) =>
        p.then(
          (ids) => ({ ids }),
          (err: unknown) => ({ err }),
        ),
      );
      g.release();
      await blocker;
      const [a, b, c] = await Promise.all(results);
      expect(a).toEqual({ ids: new Set(before.map((r) => r.id)) });
      expect(c).toEqual({ ids: new Set(after.map((r) => r.id)) });
      expect(b).toEqual({ err: expect.any(Error) });
      // The group failed as a whole, then each request went alone.
      expect(g.log).toEqual([
        { rows: 1, ok: true },
        { rows: 5, ok: false },
        { rows: 2, ok: true },
        { rows: 2, ok: false },
        { rows: 1, ok: true },
      ]);
      const ids = [...before, ...after].map((r) => r.id);
      expect(await stored([...ids, bad.id])).toEqual([...ids].sort());
    },
  );

  it('resolves a key repeated within one statement to one row: one request gets it, the others nothing', async () => {
    const g = gatedSql(createSql(h.orm));
    const commit = createGroupCommit(g.sql, LIMITS);
    g.hold();
    const blocker = commit.insert([row()]);
    const key = `k-${randomUUID()}`;
    const messageId = randomUUID();
    const keyed = [
      row({ idempotency_key: key }),
      row({ idempotency_key: key }),
      row({ idempotency_key: key }),
    ];
    const messages = [
      row({ message_id: messageId }, 'grouped'),
      row({ message_id: messageId }, 'grouped'),
    ];
    const pending = [...keyed, ...messages].map((r) => commit.insert([r]));
    g.release();
    await blocker;
    const results = await Promise.all(pending);
    expect(g.log.map((s) => s.rows)).toEqual([1, 5]);
    const won = (from: number, to: number) =>
      results
        .slice(from, to)
        .flatMap((ids, i) => (ids.size > 0 ? [[...keyed, ...messages][from + i]!.id] : []));
    expect(won(0, 3)).toHaveLength(1);
    expect(won(3, 5)).toHaveLength(1);
    expect(await stored([...keyed, ...messages].map((r) => r.id))).toEqual(
      [...won(0, 3), ...won(3, 5)].sort(),
    );
  });
});
