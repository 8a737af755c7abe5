import type { PoolClient } from 'pg';
import { uuidv7 } from '../../src/db/uuid';
import type { Stack } from '../stack';
import { CheckError, eventInput, type Progress } from './events';

const TABLE = 'bench_pg_ceiling';

/**
 * Measurement d, what PostgreSQL itself allows the batch path: one multi-row INSERT per chunk as
 * the API writes, one set-based UPDATE per chunk as a worker marks rows processed, chunks over
 * `connections` in parallel. No Temporal, no HTTP, no ORM.
 */
export async function postgresRound(
  stack: Stack,
  total: number,
  chunk: number,
  connections: number,
  progress: Progress,
) {
  const userId = (await stack.newUser()).id;
  // The events table's shape exactly, with the foreign key that `like` does not copy.
  await stack.pg.query(`drop table if exists ${TABLE}`);
  await stack.pg.query(`create table ${TABLE} (like events including all)`);
  await stack.pg.query(
    `alter table ${TABLE} add foreign key (user_id) references users (id) on update cascade`,
  );
  // Built before the clock starts: the figure is PostgreSQL's.
  const chunks = Array.from({ length: Math.ceil(total / chunk) }, (_, c) =>
    Array.from({ length: Math.min(chunk, total - c * chunk) }, (_, k) => {
      const input = eventInput(c * chunk + k);
      // What the worker stores: the original, a normalized copy, the time and the owner.
      const properties = JSON.stringify({
        original: input.payload,
        normalized: input.payload,
        normalized_at: new Date().toISOString(),
        user: { id: userId },
      });
      return { id: uuidv7(), input, properties };
    }),
  );
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    const client: PoolClient = await stack.pg.connect();
    try {
      for (let c = next++; c < chunks.length; c = next++) {
        const rows = chunks[c]!;
        const values: unknown[] = [userId];
        const tuples = rows.map(({ id, input }, i) => {
          const { event_name, event_type, payload } = input;
          values.push(id, event_name, event_type, JSON.stringify(payload), `event-${id}`);
          const p = i * 5;
          return `($${p + 2}, $1, $${p + 3}, $${p + 4}, $${p + 5}, 'received', false, $${p + 6}, now(), now(), now(), now())`;
        });
        await client.query(
          `insert into ${TABLE} (id, user_id, event_name, event_type, payload, status, processed, workflow_id, created_at, updated_at, received_at, event_time)
           values ${tuples.join(', ')}`,
          values,
        );
        await client.query(
          `update ${TABLE} e
              set status = 'processed', processed = true, processed_at = now(), processing_error = null,
                  properties = v.properties, updated_at = now()
             from (select unnest($1::uuid[]) as id, unnest($2::jsonb[]) as properties) v
            where e.id = v.id and e.status <> 'processed'`,
          [rows.map((r) => r.id), rows.map((r) => r.properties)],
        );
        done += rows.length;
        progress(done / total, `${done}/${total} rows`);
      }
    } finally {
      client.release();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = performance.now() - started;

  const { rows } = await stack.pg.query<{ n: number }>(
    `select count(*)::int as n from ${TABLE} where status = 'processed' and properties is not null`,
  );
  if (rows[0]!.n !== total) {
    throw new CheckError(`${rows[0]!.n} of ${total} scratch rows were written and updated`);
  }
  // Rows inserted and then updated per second.
  return { rows: total, chunkSize: chunk, connections, rowsPerSec: (total * 1000) / elapsed };
}
