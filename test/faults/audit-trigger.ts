import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;

/**
 * Test instrumentation in the suite's throwaway database: a trigger that writes down every
 * committed change of an event's status, `processed` flag or `processed_at`, and any change of
 * `properties` once processed. Rolled-back transactions leave no trace, so what it records is
 * what really happened to the row. The service never reads this table.
 */
const INSTALL = `
create table fault_audit (
  id bigserial primary key,
  event_id uuid not null,
  old_status text not null,
  new_status text not null,
  old_processed boolean not null,
  new_processed boolean not null,
  old_processed_at timestamptz,
  new_processed_at timestamptz,
  properties_changed boolean not null,
  at timestamptz not null default clock_timestamp()
);
create index fault_audit_event_id on fault_audit (event_id);

create function fault_audit_event_update() returns trigger language plpgsql as $$
begin
  if new.status is distinct from old.status
     or new.processed is distinct from old.processed
     or new.processed_at is distinct from old.processed_at
     or (old.status = 'processed' and new.properties is distinct from old.properties) then
    insert into fault_audit (event_id, old_status, new_status, old_processed, new_processed,
                             old_processed_at, new_processed_at, properties_changed)
    values (new.id, old.status, new.status, old.processed, new.processed,
            old.processed_at, new.processed_at, new.properties is distinct from old.properties);
  end if;
  return new;
end $$;

create trigger fault_audit_event_update after update on events
  for each row execute function fault_audit_event_update();
`;

export async function installAuditTrigger(pool: Pool): Promise<void> {
  await pool.query(INSTALL);
}

/** Events whose processing took effect more than once, by what gave them away. */
export interface DoubleProcessing {
  /** processed_at changed after it was set. */
  processedAtRewritten: string[];
  /** Became `processed` in two separate updates. */
  processedTwice: string[];
  /** Left `processed` again (to failed, processing…). */
  leftProcessed: string[];
  /** Had properties rewritten after being processed. */
  propertiesRewritten: string[];
  /** Every event above, once. */
  events: string[];
}

export async function findDoubleProcessing(pool: Db): Promise<DoubleProcessing> {
  const ids = async (where: string, having = ''): Promise<string[]> =>
    (
      await pool.query<{ event_id: string }>(
        `select event_id from fault_audit where ${where} group by event_id ${having} order by event_id`,
      )
    ).rows.map((r) => r.event_id);
  const found = {
    processedAtRewritten: await ids(
      'old_processed_at is not null and new_processed_at is distinct from old_processed_at',
    ),
    processedTwice: await ids(
      `new_status = 'processed' and old_status <> 'processed'`,
      'having count(*) > 1',
    ),
    leftProcessed: await ids(`old_status = 'processed' and new_status <> 'processed'`),
    propertiesRewritten: await ids(`old_status = 'processed' and properties_changed`),
  };
  const events = [...new Set(Object.values(found).flat())].sort();
  return { ...found, events };
}

/** Thrown when the instrumentation fails to see a double processing staged on purpose. */
export class AuditTriggerBlindError extends Error {
  override readonly name = 'AuditTriggerBlindError';
}

/**
 * Proves the instrumentation can fail the run: in a transaction that is rolled back, an event
 * is processed, failed, processed again with a new processed_at and then has its properties
 * rewritten; every detector must name it.
 * @throws {@link AuditTriggerBlindError} naming the detectors that missed it
 */
export async function assertAuditTriggerSees(pool: Pool): Promise<void> {
  const client = await pool.connect();
  const userId = randomUUID();
  const eventId = randomUUID();
  try {
    await client.query('begin');
    await client.query(`insert into users (id, email, token_hash) values ($1, $2, $3)`, [
      userId,
      `audit-${userId}@example.com`,
      userId.replace(/-/g, '').padEnd(64, '0'),
    ]);
    await client.query(
      `insert into events (id, user_id, event_name, event_type, workflow_id, received_at, event_time)
       values ($1, $2, 'audit', 'audit', $3, now(), now())`,
      [eventId, userId, `event-${eventId}`],
    );
    for (const change of [
      `status = 'processing'`,
      `status = 'processed', processed = true, processed_at = now(), properties = '{}'`,
      `status = 'failed', processed = false`,
      `status = 'processed', processed = true, processed_at = now() + interval '1 second'`,
      `properties = '{"again": true}'`,
    ]) {
      await client.query(`update events set ${change} where id = $1`, [eventId]);
    }
    const found = await findDoubleProcessing(client);
    const missed = (
      ['processedAtRewritten', 'processedTwice', 'leftProcessed', 'propertiesRewritten'] as const
    ).filter((k) => !found[k].includes(eventId));
    if (missed.length > 0) {
      throw new AuditTriggerBlindError(`the audit trigger missed a staged ${missed.join(', ')}`);
    }
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** The audit trail of one event, oldest first, for the report's evidence. */
export async function auditTrail(pool: Pool, eventId: string): Promise<string[]> {
  const { rows } = await pool.query<{ line: string }>(
    `select to_char(at, 'HH24:MI:SS.MS') || ' ' || old_status || ' -> ' || new_status ||
            ' processed_at ' || coalesce(to_char(old_processed_at, 'HH24:MI:SS.MS'), '-') ||
            ' -> ' || coalesce(to_char(new_processed_at, 'HH24:MI:SS.MS'), '-') as line
       from fault_audit where event_id = $1 order by id`,
    [eventId],
  );
  return rows.map((r) => r.line);
}

/** Audited changes committed after `since`: anything here after quiescence is a late write. */
export async function changesSince(pool: Pool, since: Date): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    'select count(*)::int as n from fault_audit where at > $1',
    [since],
  );
  return rows[0]?.n ?? 0;
}
