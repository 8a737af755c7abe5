import { request } from 'undici';
import { checkProcessedRows, waitForTerminal } from '../event-rows';
import { BenchCheckError } from '../errors';
import { runClosedLoop, type RequestRecord } from '../http-load';
import { eventInput } from '../payloads';
import { percentile } from '../stats';
import { processingTimeoutMs, type ScenarioContext } from './context';

/** Where the batch endpoint is expected; its contract is `{events}` -> 202 `{batch_id, event_ids, workflow_id}`. */
export const BATCH_PATH = '/api/v1/events/batch';

/** One round of measurement c. */
export interface BatchRound {
  batches: number;
  batchSize: number;
  concurrency: number;
  /** Events per second from the first batch sent to the last row processed. */
  eventsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** How long the API took to answer 202 to a whole batch. */
  acceptP50Ms: number;
  acceptP99Ms: number;
}

/**
 * Whether the API has the batch endpoint. An empty object is sent, which a real endpoint refuses
 * (422) without storing anything; 404 (no route) or 405 (the path only matches `GET /:id`) mean
 * it does not exist yet.
 */
export async function probeBatchEndpoint(
  origin: string,
  token: string,
): Promise<{ present: boolean; status: number }> {
  const res = await request(origin + BATCH_PATH, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  await res.body.text();
  return { present: res.statusCode !== 404 && res.statusCode !== 405, status: res.statusCode };
}

/**
 * Measurement c: `batchesPerRound` batches of `batchSize` events (about 200-byte payloads) sent
 * by `batchConcurrency` clients, timed until every row is processed, every row checked.
 */
export async function batchRound(ctx: ScenarioContext): Promise<BatchRound> {
  const { stack, plan } = ctx;
  const size = plan.batchSize;
  const batches = ctx.size(plan.batchesPerRound);
  const total = size * batches;
  const user = await stack.newUser();
  const load = await Promise.race([
    runClosedLoop({
      origin: stack.apiOrigin,
      concurrency: plan.batchConcurrency,
      count: batches,
      token: user.token,
      request: (b) => ({
        path: BATCH_PATH,
        body: JSON.stringify({
          events: Array.from({ length: size }, (_, k) => eventInput(b * size + k)),
        }),
      }),
      onAnswer: (n) => ctx.progress((0.3 * n) / batches, `${n}/${batches} batches accepted`),
    }),
    stack.failure,
  ]);
  const idsPerBatch = load.records.map((r) => acceptedBatchIds(r, size));
  await waitForTerminal(stack.pg, user.id, total, {
    timeoutMs: processingTimeoutMs(total),
    abort: stack.failure,
    onProgress: (n) => ctx.progress(0.3 + (0.7 * n) / total, `${n}/${total} processed`),
  });
  const processed = await checkProcessedRows(stack.pg, user.id, idsPerBatch.flat());

  const latencies = load.records.flatMap((r, b) =>
    idsPerBatch[b]!.map((id) => processed.get(id)! - r.sentAtMs),
  );
  const firstSent = Math.min(...load.records.map((r) => r.sentAtMs));
  const lastProcessed = Math.max(...processed.values());
  return {
    batches,
    batchSize: size,
    concurrency: plan.batchConcurrency,
    eventsPerSec: (total * 1000) / (lastProcessed - firstSent),
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    acceptP50Ms: percentile(
      load.records.map((r) => r.latencyMs),
      0.5,
    ),
    acceptP99Ms: percentile(
      load.records.map((r) => r.latencyMs),
      0.99,
    ),
  };
}

function acceptedBatchIds(record: RequestRecord, size: number): string[] {
  if (record.status !== 202) {
    throw new BenchCheckError(
      `POST ${BATCH_PATH} answered ${record.status}, not 202: ${record.body.slice(0, 300)}`,
    );
  }
  const body = JSON.parse(record.body) as {
    batch_id?: unknown;
    event_ids?: unknown;
    workflow_id?: unknown;
  };
  const ids = body.event_ids;
  if (
    typeof body.batch_id !== 'string' ||
    typeof body.workflow_id !== 'string' ||
    !Array.isArray(ids) ||
    ids.length !== size ||
    !ids.every((id) => typeof id === 'string')
  ) {
    throw new BenchCheckError(
      `POST ${BATCH_PATH} answered an unexpected body (want batch_id, workflow_id and ${size} event_ids): ${record.body.slice(0, 300)}`,
    );
  }
  return ids as string[];
}
