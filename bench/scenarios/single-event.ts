import { checkProcessedRows, waitForTerminal } from '../event-rows';
import { BenchCheckError } from '../errors';
import { runClosedLoop, type RequestRecord } from '../http-load';
import { eventInput } from '../payloads';
import { percentile } from '../stats';
import { processingTimeoutMs, type ScenarioContext } from './context';

/** One round of `POST /api/v1/events` load, from submission to processed rows. */
export interface SingleEventRound {
  concurrency: number;
  events: number;
  /** Events per second from the first POST sent to the last row processed. */
  eventsPerSec: number;
  /** Submit-to-processed latency of each event (POST sent to processed_at). */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** How long the API took to answer 202. */
  acceptP50Ms: number;
  acceptP99Ms: number;
  /** 202 answers per second while the clients were sending. */
  acceptPerSec: number;
}

/**
 * Sends `events` single events with `concurrency` clients, then waits for every row to be
 * processed (one count query per 100 ms) and checks each row. Used by measurements b and e.
 */
export async function singleEventRound(
  ctx: ScenarioContext,
  concurrency: number,
  events: number,
): Promise<SingleEventRound> {
  const { stack } = ctx;
  events = ctx.size(events);
  const user = await stack.newUser();
  const load = await Promise.race([
    runClosedLoop({
      origin: stack.apiOrigin,
      concurrency,
      count: events,
      token: user.token,
      request: (i) => ({ path: '/api/v1/events', body: JSON.stringify(eventInput(i)) }),
      onAnswer: (n) => ctx.progress((0.5 * n) / events, `${n}/${events} accepted`),
    }),
    stack.failure,
  ]);
  const ids = load.records.map(acceptedEventId);
  await waitForTerminal(stack.pg, user.id, events, {
    timeoutMs: processingTimeoutMs(events),
    abort: stack.failure,
    onProgress: (n) => ctx.progress(0.5 + (0.5 * n) / events, `${n}/${events} processed`),
  });
  const processed = await checkProcessedRows(stack.pg, user.id, ids);

  const latencies = load.records.map((r, i) => processed.get(ids[i]!)! - r.sentAtMs);
  const firstSent = Math.min(...load.records.map((r) => r.sentAtMs));
  const lastProcessed = Math.max(...processed.values());
  const accept = load.records.map((r) => r.latencyMs);
  return {
    concurrency,
    events,
    eventsPerSec: (events * 1000) / (lastProcessed - firstSent),
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    acceptP50Ms: percentile(accept, 0.5),
    acceptP99Ms: percentile(accept, 0.99),
    acceptPerSec: (events * 1000) / load.elapsedMs,
  };
}

/** The event id of a 202 answer, checked against the API contract. */
function acceptedEventId(record: RequestRecord): string {
  if (record.status !== 202) {
    throw new BenchCheckError(
      `POST /api/v1/events answered ${record.status}, not 202: ${record.body.slice(0, 300)}`,
    );
  }
  const body = JSON.parse(record.body) as {
    event_id?: unknown;
    workflow_id?: unknown;
    status?: unknown;
  };
  if (
    typeof body.event_id !== 'string' ||
    body.workflow_id !== `event-${body.event_id}` ||
    body.status !== 'received'
  ) {
    throw new BenchCheckError(`POST /api/v1/events answered an unexpected body: ${record.body}`);
  }
  return body.event_id;
}
