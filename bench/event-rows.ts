import { setTimeout as delay } from 'node:timers/promises';
import type { Pool } from 'pg';
import { BenchCheckError, BenchTimeoutError } from './errors';

const POLL_INTERVAL_MS = 100;

/**
 * Waits until `expected` events of `userId` are in a terminal state, with one cheap count query
 * every 100 ms (never a GET per event). Each round uses a user of its own, so its rows are easy to
 * count. `onProgress` receives the number finished so far.
 */
export async function waitForTerminal(
  pg: Pool,
  userId: string,
  expected: number,
  opts: { timeoutMs: number; onProgress?: (done: number) => void; abort?: Promise<never> },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let done = 0;
  for (;;) {
    const { rows } = await pg.query<{ done: number }>(
      `select count(*)::int as done from events
        where user_id = $1 and status in ('processed', 'failed')`,
      [userId],
    );
    done = rows[0]!.done;
    opts.onProgress?.(done);
    if (done >= expected) return;
    if (Date.now() > deadline) {
      throw new BenchTimeoutError(
        `only ${done} of ${expected} events were processed within ${opts.timeoutMs / 1000} s`,
      );
    }
    await (opts.abort
      ? Promise.race([delay(POLL_INTERVAL_MS), opts.abort])
      : delay(POLL_INTERVAL_MS));
  }
}

/** When each event of a round was processed, by id, as epoch ms. */
export type ProcessedTimes = Map<string, number>;

/**
 * Checks every row of the round against what the API accepted, and returns processing times.
 * A row passes only when it is `processed`, has `processed_at`, and its `properties` hold the
 * original payload verbatim, a normalized copy and the owner's id: what the worker must write.
 *
 * @throws {@link BenchCheckError} naming the first discrepancy
 */
export async function checkProcessedRows(
  pg: Pool,
  userId: string,
  acceptedIds: readonly string[],
): Promise<ProcessedTimes> {
  const { rows } = await pg.query<{
    id: string;
    processed_ms: number | null;
    ok: boolean;
    status: string;
  }>(
    `select id,
            extract(epoch from processed_at) * 1000 as processed_ms,
            status,
            (status = 'processed' and processed and processed_at is not null
              and properties -> 'original' = payload
              and jsonb_typeof(properties -> 'normalized') = 'object'
              and properties -> 'user' ->> 'id' = user_id::text
              and processing_error is null) as ok
       from events where user_id = $1`,
    [userId],
  );
  const accepted = new Set(acceptedIds);
  if (accepted.size !== acceptedIds.length) {
    throw new BenchCheckError(
      `the API returned ${acceptedIds.length - accepted.size} duplicate event ids`,
    );
  }
  if (rows.length !== accepted.size) {
    throw new BenchCheckError(
      `${accepted.size} events were accepted but the database holds ${rows.length} for the user`,
    );
  }
  const times: ProcessedTimes = new Map();
  const bad = rows.filter((r) => !r.ok);
  if (bad.length > 0) {
    const statuses = [...new Set(bad.map((r) => r.status))].join(', ');
    throw new BenchCheckError(
      `${bad.length} of ${rows.length} events were not processed correctly (status: ${statuses}), e.g. ${bad[0]!.id}`,
    );
  }
  for (const row of rows) {
    if (!accepted.has(row.id))
      throw new BenchCheckError(`row ${row.id} was never accepted by the API`);
    times.set(row.id, Number(row.processed_ms));
  }
  return times;
}
