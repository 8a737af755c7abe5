import type { Pool, PoolClient } from 'pg';
import { uuidv7 } from '../../src/db/uuid';
import { BenchCheckError } from '../errors';
import { eventInput } from '../payloads';
import type { ScenarioContext } from './context';

/** One round of measurement d. */
export interface PostgresRound {
  rows: number;
  chunkSize: number;
  connections: number;
  /** Rows inserted and then updated per second. */
  rowsPerSec: number;
}

const TABLE = 'bench_pg_ceiling';

/**
 * A scratch table of exactly the events table's shape: same columns, defaults, check, indexes,
 * and the foreign key to users that `like` does not copy.
 */
export async function preparePostgresCeiling(pg: Pool): Promise<void> {
  await pg.query(`drop table if exists ${TABLE}`);
  await pg.query(`create table ${TABLE} (like events including all)`);
  await pg.query(
    `alter table ${TABLE} add foreign key (user_id) references users (id) on update cascade`,
  );
}

/**
 * Measurement d, what PostgreSQL itself allows for the batch path: rows written as the API
 * would (one multi-row INSERT per chunk of `batchSize`) and marked processed as a worker would
 * (one set-based UPDATE per chunk with each row's properties), over `pgConnections` connections
 * in parallel. No Temporal, no HTTP, no ORM.
 */
export async function postgresRound(ctx: ScenarioContext, userId: string): Promise<PostgresRound> {
  const { stack, plan } = ctx;
  const { pg } = stack;
  await pg.query(`truncate ${TABLE}`);
  const total = ctx.size(plan.pgRows);
  const chunk = plan.batchSize;
  const chunks = Math.ceil(total / chunk);
  // Rows and properties are built before the clock starts: the figure is PostgreSQL's.
  const prepared = Array.from({ length: chunks }, (_, c) => {
    const rows = Array.from({ length: Math.min(chunk, total - c * chunk) }, (_, k) => {
      const input = eventInput(c * chunk + k);
      const id = uuidv7();
      return { id, input, properties: propertiesOf(input.payload, userId) };
    });
    return rows;
  });
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    const client: PoolClient = await pg.connect();
    try {
      for (let c = next++; c < chunks; c = next++) {
        await insertChunk(client, prepared[c]!, userId);
        await updateChunk(client, prepared[c]!);
        done += prepared[c]!.length;
        ctx.progress(done / total, `${done}/${total} rows`);
      }
    } finally {
      client.release();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: plan.pgConnections }, worker));
  const elapsed = performance.now() - started;

  const { rows } = await pg.query<{ n: number }>(
    `select count(*)::int as n from ${TABLE} where status = 'processed' and properties is not null`,
  );
  if (rows[0]!.n !== total) {
    throw new BenchCheckError(`${rows[0]!.n} of ${total} scratch rows were written and updated`);
  }
  return {
    rows: total,
    chunkSize: chunk,
    connections: plan.pgConnections,
    rowsPerSec: (total * 1000) / elapsed,
  };
}

type Row = { id: string; input: ReturnType<typeof eventInput>; properties: string };

async function insertChunk(client: PoolClient, rows: Row[], userId: string): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map((r, i) => {
    values.push(
      r.id,
      r.input.event_name,
      r.input.event_type,
      JSON.stringify(r.input.payload),
      `event-${r.id}`,
    );
    const p = i * 5;
    return `($${p + 1}, $${rows.length * 5 + 1}, $${p + 2}, $${p + 3}, $${p + 4}, 'received', false, $${p + 5}, now(), now(), now(), now())`;
  });
  values.push(userId);
  await client.query(
    `insert into ${TABLE} (id, user_id, event_name, event_type, payload, status, processed, workflow_id, created_at, updated_at, received_at, event_time)
     values ${tuples.join(', ')}`,
    values,
  );
}

async function updateChunk(client: PoolClient, rows: Row[]): Promise<void> {
  await client.query(
    `update ${TABLE} e
        set status = 'processed', processed = true, processed_at = now(), processing_error = null,
            properties = v.properties, updated_at = now()
       from (select unnest($1::uuid[]) as id, unnest($2::jsonb[]) as properties) v
      where e.id = v.id and e.status <> 'processed'`,
    [rows.map((r) => r.id), rows.map((r) => r.properties)],
  );
}

/** What the worker stores: the original, a normalized copy, the time and the owner. */
function propertiesOf(payload: Record<string, unknown>, userId: string): string {
  return JSON.stringify({
    original: payload,
    normalized: payload,
    normalized_at: new Date().toISOString(),
    user: { id: userId },
  });
}
