import { setTimeout as delay } from 'node:timers/promises';
import type { Pool } from 'pg';
import { Pool as HttpPool } from 'undici';
import type { Stack } from '../stack';

/** A measurement's own check failed (an event lost, a count off, an answer off contract): its figure is void. */
export class CheckError extends Error {
  override readonly name = 'CheckError';
}

export type Progress = (fraction: number, detail: string) => void;

/** Wall-clock epoch ms with sub-millisecond resolution, comparable with PostgreSQL's timestamps. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Nearest-rank, so it is a real sample. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

/** About 200 bytes of payload, varied per index. */
export function eventInput(i: number) {
  return {
    event_name: ['page_view', 'add_to_cart', 'checkout_started'][i % 3]!,
    event_type: 'engagement',
    payload: {
      page: `/products/${100_000 + (i % 900_000)}`,
      duration: (i * 37) % 600,
      referrer: 'https://example.com/search?q=shoes',
      // An offset date-time, so normalization has real work to do.
      occurred_at: '2025-12-18T12:30:00+02:00',
      session: { id: `s-${(i * 7919) % 1_000_003}`, new_visitor: i % 2 === 0 },
      tags: ['  summer-sale ', 'mobile'],
    },
  };
}

export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(eventInput(123_456).payload));

/** One POST's answer as a closed-loop client saw it. */
export interface Answer {
  sentAtMs: number;
  latencyMs: number;
  status: number;
  body: string;
}

/**
 * Sends `bodies` to `path` by `concurrency` clients in a closed loop as autocannon runs one:
 * each, on its own keep-alive connection, sends as soon as its previous request was answered.
 * Bodies are built before the clock starts, so the bench's JSON encoding does not count.
 */
export async function closedLoop(
  stack: Stack,
  concurrency: number,
  path: string,
  headers: Record<string, string>,
  bodies: string[],
  progress?: (answered: number) => void,
): Promise<{ answers: Answer[]; elapsedMs: number }> {
  const http = new HttpPool(stack.apiOrigin, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const answers: Answer[] = [];
  let next = 0;
  let answered = 0;
  const client = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const sentAtMs = nowMs();
      const res = await http.request({ method: 'POST', path, headers, body: bodies[i] });
      const body = await res.body.text();
      answers[i] = { sentAtMs, latencyMs: nowMs() - sentAtMs, status: res.statusCode, body };
      answered++;
      progress?.(answered);
    }
  };
  const started = nowMs();
  const clients = Array.from({ length: Math.min(concurrency, bodies.length) }, client);
  await Promise.race([Promise.all(clients).finally(() => http.close()), stack.failure]);
  return { answers, elapsedMs: nowMs() - started };
}

/** What a round reports: throughput POST-to-processed, and how the API answered. */
export function roundFigures(
  concurrency: number,
  answers: Answer[],
  elapsedMs: number,
  /** For each answer, when each of its events was processed (epoch ms). */
  processedAt: number[][],
) {
  const latencies = answers.flatMap((a, i) => processedAt[i]!.map((t) => t - a.sentAtMs));
  const accept = answers.map((a) => a.latencyMs);
  const firstSent = Math.min(...answers.map((a) => a.sentAtMs));
  const lastProcessed = Math.max(...processedAt.flat());
  return {
    concurrency,
    events: latencies.length,
    // From the first POST sent to the last row processed.
    eventsPerSec: (latencies.length * 1000) / (lastProcessed - firstSent),
    // POST sent to processed_at, per event.
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    // How long the API took to answer, and how many answers per second.
    acceptP50Ms: percentile(accept, 0.5),
    acceptP99Ms: percentile(accept, 0.99),
    acceptPerSec: (answers.length * 1000) / elapsedMs,
  };
}

/**
 * `requests` POSTs of single events (measurements b and e) or of batches of `batchSize` events
 * (c), in a closed loop (see `closedLoop`). Then waits for every row and checks each.
 */
export async function eventRound(
  stack: Stack,
  concurrency: number,
  requests: number,
  batchSize: number | undefined,
  progress?: Progress,
  options: {
    /** The round's user gets this tracking plan before the clock starts (measurement p). */
    trackingPlan?: unknown;
    /** Holds the worker while the POSTs go (measurement i: accept alone). */
    hold?: { pause(): void; resume(): void };
  } = {},
) {
  const { hold } = options;
  const events = requests * (batchSize ?? 1);
  const path = batchSize ? '/api/v1/events/batch' : '/api/v1/events';
  const bodies = Array.from({ length: requests }, (_, r) =>
    JSON.stringify(
      batchSize
        ? { events: Array.from({ length: batchSize }, (_, k) => eventInput(r * batchSize + k)) }
        : eventInput(r),
    ),
  );
  const user = await stack.newUser();
  const warmUpIds = options.trackingPlan
    ? await warmUpTrackingPlan(stack, user, options.trackingPlan)
    : [];
  const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
  hold?.pause();
  let sent: Awaited<ReturnType<typeof closedLoop>>;
  try {
    sent = await closedLoop(stack, concurrency, path, headers, bodies, (n) =>
      progress?.((0.5 * n) / bodies.length, `${n}/${bodies.length} answered`),
    );
  } finally {
    hold?.resume();
  }
  const { answers, elapsedMs } = sent;

  // The event ids of each 202 answer, checked against the API contract.
  const idsPerAnswer = answers.map((a) => {
    const b = (a.status === 202 ? JSON.parse(a.body) : {}) as Record<string, unknown>;
    const ids = batchSize ? b.event_ids : [b.event_id];
    const ok = batchSize
      ? typeof b.batch_id === 'string' && typeof b.workflow_id === 'string'
      : b.workflow_id === `event-${String(b.event_id)}` && b.status === 'received';
    if (ok && Array.isArray(ids) && ids.length === (batchSize ?? 1)) {
      if (ids.every((id) => typeof id === 'string')) return ids as string[];
    }
    throw new CheckError(`POST ${path} answered ${a.status}: ${a.body.slice(0, 300)}`);
  });
  await waitForTerminal(stack, user.id, warmUpIds.length + events, 60_000 + events * 50, (n) =>
    progress?.(0.5 + (0.5 * n) / events, `${n}/${events} processed`),
  );
  const processed = await checkProcessedRows(stack.pg, user.id, [
    ...warmUpIds,
    ...idsPerAnswer.flat(),
  ]);
  return roundFigures(
    concurrency,
    answers,
    elapsedMs,
    idsPerAnswer.map((ids) => ids.map((id) => processed.get(id)!)),
  );
}

/**
 * Gives the round's user a tracking plan before its clock starts, and sends one event through
 * it: a worker compiles each plan version once, when it first meets it, and a real plan meets
 * that once per worker, not once per round. Returns the event's id, which the round's checks
 * count with the others.
 */
async function warmUpTrackingPlan(
  stack: Stack,
  user: { id: string; token: string },
  plan: unknown,
): Promise<string[]> {
  const send = async (method: string, path: string, body: unknown, status: number) => {
    const res = await fetch(`${stack.apiOrigin}${path}`, {
      method,
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== status)
      throw new CheckError(`${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  await send('PUT', '/api/v1/tracking-plan', plan, 200);
  const accepted = await send('POST', '/api/v1/events', eventInput(0), 202);
  await waitForTerminal(stack, user.id, 1, 60_000);
  return [String(accepted.event_id)];
}

export async function countEvents(
  pg: Pool,
  userId: string,
  where = `status in ('processed', 'failed')`,
): Promise<number> {
  const { rows } = await pg.query<{ n: number }>(
    `select count(*)::int as n from events where user_id = $1 and ${where}`,
    [userId],
  );
  return rows[0]!.n;
}

/** One cheap count query every 100 ms, never a GET per event, until `expected` are finished. */
export async function waitForTerminal(
  stack: Stack,
  userId: string,
  expected: number,
  timeoutMs: number,
  onProgress?: (done: number) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await countEvents(stack.pg, userId);
    onProgress?.(done);
    if (done >= expected) return;
    if (Date.now() > deadline) {
      throw new CheckError(
        `only ${done} of ${expected} events were processed within ${timeoutMs / 1000} s`,
      );
    }
    await Promise.race([delay(100), stack.failure]);
  }
}

/**
 * A row passes only when it is `processed` and its `properties` hold the original payload
 * verbatim, a normalized copy and the owner's id: what the worker must write. Returns when each
 * was processed, by `key` (the event id, or a tracking message's messageId), as epoch ms.
 */
export async function checkProcessedRows(
  pg: Pool,
  userId: string,
  acceptedIds: readonly string[],
  key: 'id' | 'message_id' = 'id',
): Promise<Map<string, number>> {
  const { rows } = await pg.query<{
    id: string;
    processed_ms: number;
    ok: boolean;
    status: string;
  }>(
    `select ${key} as id,
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
    throw new CheckError(`the API returned ${acceptedIds.length - accepted.size} duplicate ids`);
  }
  if (rows.length !== accepted.size) {
    throw new CheckError(
      `${accepted.size} events were accepted but the database holds ${rows.length} for the user`,
    );
  }
  const bad = rows.filter((r) => !r.ok);
  if (bad.length > 0) {
    const statuses = [...new Set(bad.map((r) => r.status))].join(', ');
    throw new CheckError(
      `${bad.length} of ${rows.length} events were not processed correctly (status: ${statuses}), e.g. ${bad[0]!.id}`,
    );
  }
  const stray = rows.find((r) => !accepted.has(r.id));
  if (stray) throw new CheckError(`row ${stray.id} was never accepted by the API`);
  return new Map(rows.map((r) => [r.id, Number(r.processed_ms)]));
}
