import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Pool, PoolClient } from 'pg';
import type { Ledger } from './load';
import { withTemporal } from './stack';
import { say, sleep, tally } from './support';

const UNFINISHED = `status not in ('processed', 'failed')`;
const LATE_WRITES = 'select id as line from fault_audit where at > $1';
/** Temporal is asked about this many unfinished workflows at most: enough to tell a pattern. */
const MAX_DESCRIBED = 400;

/**
 * Test instrumentation in the suite's throwaway database: a trigger that writes down every
 * committed change of an event's status, `processed` flag or `processed_at`, and any change of
 * `properties` once processed. Rolled-back transactions leave no trace, so what it records is
 * what really happened to the row. The service never reads this table.
 */
const INSTALL_AUDIT = `
create table fault_audit (
  id bigserial primary key, event_id uuid not null, old_status text not null, new_status text not null,
  old_processed_at timestamptz, new_processed_at timestamptz, properties_changed boolean not null,
  at timestamptz not null default clock_timestamp()
);
create index fault_audit_event_id on fault_audit (event_id);

create function fault_audit_event_update() returns trigger language plpgsql as $$
begin
  if new.status is distinct from old.status
     or new.processed is distinct from old.processed
     or new.processed_at is distinct from old.processed_at
     or (old.status = 'processed' and new.properties is distinct from old.properties) then
    insert into fault_audit (event_id, old_status, new_status, old_processed_at,
                             new_processed_at, properties_changed)
    values (new.id, old.status, new.status, old.processed_at, new.processed_at,
            new.properties is distinct from old.properties);
  end if;
  return new;
end $$;

create trigger fault_audit_event_update after update on events
  for each row execute function fault_audit_event_update();
`;

/** Each sign that an event's processing took effect more than once. */
const DOUBLE_PROCESSING = {
  'processed_at rewritten': `bool_or(old_processed_at is not null and new_processed_at is distinct from old_processed_at)`,
  'processed twice': `count(*) filter (where new_status = 'processed' and old_status <> 'processed') > 1`,
  'left processed': `bool_or(old_status = 'processed' and new_status <> 'processed')`,
  'properties rewritten': `bool_or(old_status = 'processed' and properties_changed)`,
};

/** Events whose processing took effect more than once, each with the signs that gave it away. */
async function findDoubleProcessing(db: Pool | PoolClient) {
  const signs = Object.entries(DOUBLE_PROCESSING).map(
    ([name, sql]) => `case when ${sql} then '${name}' end`,
  );
  const { rows } = await db.query<{ id: string; signs: string[] }>(
    `select * from (select event_id as id, array_remove(array[${signs.join(', ')}], null) as signs
                      from fault_audit group by event_id) s
      where cardinality(signs) > 0 order by id`,
  );
  return rows;
}

/**
 * Installs the audit trigger and proves it can fail the run: in a transaction rolled back, an
 * event is processed, failed, processed again with a new processed_at and has its properties
 * rewritten; every sign must name it.
 */
export async function installAuditTrigger(pool: Pool): Promise<void> {
  await pool.query(INSTALL_AUDIT);
  const client = await pool.connect();
  // Our own UUIDs, so they can be written into the statements.
  const [userId, eventId] = [randomUUID(), randomUUID()];
  const update = (set: string) => `update events set ${set} where id = '${eventId}';`;
  try {
    await client.query(`begin;
      insert into users (id, email, token_hash)
        values ('${userId}', 'audit-${userId}@example.com', '${userId.replace(/-/g, '').padEnd(64, '0')}');
      insert into events (id, user_id, event_name, event_type, workflow_id, received_at, event_time)
        values ('${eventId}', '${userId}', 'audit', 'audit', 'event-${eventId}', now(), now());
      ${update(`status = 'processing'`)}
      ${update(`status = 'processed', processed = true, processed_at = now(), properties = '{}'`)}
      ${update(`status = 'failed', processed = false`)}
      ${update(`status = 'processed', processed = true, processed_at = now() + interval '1 second'`)}
      ${update(`properties = '{"again": true}'`)}`);
    const seen = (await findDoubleProcessing(client)).find((r) => r.id === eventId)?.signs ?? [];
    const missed = Object.keys(DOUBLE_PROCESSING).filter((sign) => !seen.includes(sign));
    if (missed.length > 0)
      throw new Error(`the audit trigger missed a staged ${missed.join(', ')}`);
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** Waits until every stored event is `processed` or `failed`, or `timeoutSeconds` pass. */
export async function waitForQuiescence(db: Pool, timeoutSeconds: number) {
  const started = Date.now();
  for (let polls = 0; ; polls++) {
    const { rows } = await db.query(`select count(*)::int as n from events where ${UNFINISHED}`);
    const unfinished: number = rows[0].n;
    if (unfinished === 0 || Date.now() >= started + timeoutSeconds * 1000) {
      const waitedSeconds = Math.round((Date.now() - started) / 1000);
      return { unfinished, waitedSeconds, quietAt: unfinished === 0 ? new Date() : undefined };
    }
    if (polls % 8 === 0) say(`waiting for ${unfinished} unfinished events`);
    await sleep(2_000);
  }
}

/** How many workflows match a visibility query; null if Temporal cannot say. */
export const countWorkflows = (address: string, query: string): Promise<number | null> =>
  withTemporal(address, async (c) => (await c.workflow.count(query)).count).catch(() => null);

/**
 * What Temporal knows of each workflow: its status, or `NO WORKFLOW` when none was ever started,
 * which is how an event stays `received` for good.
 */
function workflowStates(address: string, ids: string[]): Promise<Map<string, string>> {
  const states = new Map(ids.slice(MAX_DESCRIBED).map((id) => [id, 'NOT CHECKED']));
  const todo = ids.slice(0, MAX_DESCRIBED);
  return withTemporal(address, async (client) => {
    const describe = async (): Promise<void> => {
      for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
        try {
          states.set(id, (await client.workflow.getHandle(id).describe()).status.name);
        } catch (err) {
          states.set(id, err instanceof WorkflowNotFoundError ? 'NO WORKFLOW' : 'UNKNOWN');
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, describe));
    return states;
  }).catch(() => states);
}

/** What breaks a promise, as the verdict names it. */
export const PROBLEMS = {
  lost: 'accepted events lost',
  duplicated: 'duplicate event rows',
  duplicateKeys: 'idempotency keys held by two rows',
  nonTerminal: 'accepted events not in a terminal state',
  unacknowledgedNonTerminal: 'stored events (answer lost) not in a terminal state',
  processedTwice: 'events processed twice',
  wrongOutcome: 'events with the wrong outcome',
  inconsistent: 'rows with inconsistent status fields',
  lateWrites: 'writes after quiescence',
  mixups: 'ids answered for two different events',
};
export type Problem = keyof typeof PROBLEMS;
export type Findings = Awaited<ReturnType<typeof check>>;

interface Row {
  id: string;
  status: string;
  processed: boolean;
  processed_at: Date | null;
  processing_error: string | null;
  has_properties: boolean;
  workflow_id: string;
  attempts: number;
  user_id: string;
  message_id: string | null;
}

/** Compares the ledger with what PostgreSQL (and, for unfinished events, Temporal) holds. */
export async function check(
  db: Pool,
  ledger: Ledger,
  temporalAddress: string,
  /** When every event was finished; undefined if the wait ran out first. */
  quietAt: Date | undefined,
) {
  const query = async <T>(sql: string, params?: unknown[]) =>
    (await db.query<T & object>(sql, params)).rows;
  const rows = await query<Row>(
    `select id, status, processed, processed_at, processing_error, workflow_id, attempts,
            user_id, message_id, properties is not null as has_properties
       from events`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  // A tracking answer names no ids: each message answered 200 is its row by messageId, or lost.
  const byMessage = new Map<string, Row>(
    rows.flatMap((r) => (r.message_id ? [[`${r.user_id} ${r.message_id}`, r]] : [])),
  );
  const lostMessages: string[] = [];
  for (const [key, { event }] of ledger.messages) {
    const row = byMessage.get(key);
    if (row) ledger.resolve(event, row.id);
    else lostMessages.push(`message ${key}`);
  }
  const acceptedIds = [...ledger.seqById.keys()];
  const present = acceptedIds.flatMap((id) => byId.get(id) ?? []);
  const terminal = (r: Row) => r.status === 'processed' || r.status === 'failed';

  const unfinished = present.filter((r) => !terminal(r));
  const states = await workflowStates(temporalAddress, [
    ...new Set(unfinished.map((r) => r.workflow_id)),
  ]);
  const lines = async (sql: string, params?: unknown[]) =>
    (await query<{ line: string }>(sql, params)).map((r) => r.line);
  // Temporal was asked after the rows were read: a row that finished meanwhile is not stuck.
  const open = new Set(
    await lines(`select id as line from events where id = any($1::uuid[]) and ${UNFINISHED}`, [
      unfinished.map((r) => r.id),
    ]),
  );
  const nonTerminal = unfinished.map((r) => ({
    id: r.id,
    status: r.status,
    workflow: r.workflow_id,
    workflowState: open.has(r.id)
      ? (states.get(r.workflow_id) ?? 'UNKNOWN')
      : 'FINISHED DURING CHECK',
  }));
  const nonTerminalByStatus: Record<string, number> = {};
  for (const r of nonTerminal) tally(nonTerminalByStatus, `${r.status} / ${r.workflowState}`);

  const acknowledged = new Set(acceptedIds);
  const unacknowledged = rows.filter((r) => !acknowledged.has(r.id));
  // Logical events stored more than once, by the `fault_seq` of their payload.
  const duplicated = await query<{ seq: number; ids: string[] }>(
    `select seq, array_agg(id::text) as ids
       from (select id, coalesce(payload->>'fault_seq', payload->'properties'->>'fault_seq')::int as seq
               from events) e
      where seq is not null group by 1 having count(*) > 1`,
  );
  const doubleProcessing = await findDoubleProcessing(db);
  const takenUpTwice = rows
    .filter((r) => r.attempts > 1)
    .map(({ id, attempts, status }) => ({ id, attempts, status }));

  /** Every broken promise, with a few of its cases as evidence. */
  const found: Record<Exclude<Problem, 'lateWrites'>, unknown[]> = {
    lost: [...acceptedIds.filter((id) => !byId.has(id)), ...lostMessages],
    duplicated,
    duplicateKeys: await lines(
      `select user_id || ' ' || idempotency_key as line from events where idempotency_key is not null
        group by user_id, idempotency_key having count(*) > 1`,
    ),
    nonTerminal,
    unacknowledgedNonTerminal: unacknowledged.filter((r) => !terminal(r)).map((r) => r.id),
    processedTwice: doubleProcessing,
    wrongOutcome: present.flatMap((r) => {
      const valid = ledger.accepted.get(ledger.seqById.get(r.id)!)?.valid ?? true;
      const right = valid
        ? r.status === 'processed'
        : r.status === 'failed' && (r.processing_error ?? '').startsWith('validation_error');
      return terminal(r) && !right
        ? [{ id: r.id, valid, status: r.status, error: r.processing_error }]
        : [];
    }),
    // Status fields that disagree, and batches not stored whole (a batch is all or nothing).
    inconsistent: [
      ...rows
        .filter((r) =>
          r.status === 'processed'
            ? !r.processed || r.processed_at === null || !r.has_properties
            : r.processed || (r.status === 'failed' && r.processing_error === null),
        )
        .map((r) => `event ${r.id} ${r.status}`),
      ...(await lines(
        `select 'batch ' || b.id || ' accepted ' || b.event_count || ' events, holds ' || count(e.id) as line
           from batches b left join events e on e.batch_id = b.id
          group by b.id, b.event_count having count(e.id) <> b.event_count`,
      )),
    ],
    mixups: ledger.mixups,
  };
  const problems: Record<Problem, number | null> = {
    ...mapValues(found, (cases) => cases.length),
    duplicated: duplicated.reduce((n, d) => n + d.ids.length - 1, 0),
    // Anything the audit recorded after quiescence is a write that should no longer happen.
    lateWrites: quietAt ? (await lines(LATE_WRITES, [quietAt])).length : null,
  };

  const evidence: Record<string, string[]> = {};
  for (const [cases, what] of [
    [doubleProcessing, ''],
    [takenUpTwice, ', taken up by several runs'],
    [nonTerminal, ', not terminal'],
  ] as const) {
    for (const { id } of cases.slice(0, 3))
      evidence[`audit trail of ${id}${what}`] = await lines(
        `select to_char(at, 'HH24:MI:SS.MS') || ' ' || old_status || ' -> ' || new_status ||
              ' processed_at ' || coalesce(to_char(old_processed_at, 'HH24:MI:SS.MS'), '-') ||
              ' -> ' || coalesce(to_char(new_processed_at, 'HH24:MI:SS.MS'), '-') as line
         from fault_audit where event_id = $1 order by id`,
        [id],
      );
  }

  return {
    counts: {
      accepted: acceptedIds.length + lostMessages.length,
      /** Of them, tracking messages (answered 200, found by messageId). */
      messages: ledger.messages.size,
      processed: present.filter((r) => r.status === 'processed').length,
      failed: present.filter((r) => r.status === 'failed').length,
      // Nothing here reprocesses: a second run means a workflow was started again for an event.
      takenUpTwice: takenUpTwice.length,
      unacknowledgedRows: unacknowledged.length,
      rowsInDatabase: rows.length,
    },
    nonTerminalByStatus,
    problems,
    samples: {
      ...mapValues(found, (cases) => cases.slice(0, 10)),
      takenUpTwice: takenUpTwice.slice(0, 10),
    },
    evidence,
  };
}

const mapValues = <K extends string, T, U>(o: Record<K, T>, f: (v: T) => U): Record<K, U> =>
  Object.fromEntries(Object.entries<T>(o).map(([k, v]) => [k, f(v)])) as Record<K, U>;
