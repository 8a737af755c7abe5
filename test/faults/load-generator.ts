import { sleep } from './clock';
import type { LogicalEvent } from './event-factory';
import { postJson } from './http-client';
import type { Ledger } from './ledger';
import type { Random } from './random';

/** A client gives a request this long (all retries included) before it gives up on it. */
const RETRY_BUDGET_MS = 120_000;
const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 5_000;
/**
 * Share of requests that carry one event; the rest are batches of BATCH_SIZE events. About one
 * event in fourteen comes alone: each is a workflow of its own, the costly kind, and a shared
 * 2-core machine runs only a few of them a second.
 */
const SINGLE_SHARE = 0.8;
const BATCH_SIZE = [25, 75] as const;
/** Share of requests sent twice, the second copy HEDGE_DELAY_MS after the first. */
const HEDGE_SHARE = 0.04;
const HEDGE_DELAY_MS = [0, 300] as const;
/** After an outage the clients send faster, to catch up, but not beyond this multiple. */
const MAX_CATCH_UP = 3;

export interface LoadUser {
  id: string;
  token: string;
}

export interface LoadOptions {
  /** One API process, or several taken in turn as a round-robin load balancer would. */
  baseUrls: string[];
  users: LoadUser[];
  targetEvents: number;
  /** Events are paced to reach `targetEvents` in about this time. */
  loadSeconds: number;
  clients: number;
  /** Whether the service deduplicates by idempotency key; if so every request carries keys. */
  idempotencyKeys: boolean;
  random: Random;
  ledger: Ledger;
  nextEvent: () => LogicalEvent;
  /** Load goes on (past the target if need be) until the faults are over. */
  faultsDone: () => boolean;
}

/**
 * Real clients over the real HTTP API: `clients` connections each send one request at a time,
 * single events and batches mixed, paced to a steady event rate. A request without an answer
 * (network error, timeout) or with a 5xx is retried with backoff, unchanged, as a client would:
 * with idempotency keys when the service has them, so a retry cannot make a second event.
 */
export async function runLoad(opts: LoadOptions): Promise<void> {
  const { client } = opts.ledger;
  const pace = pacer(opts.targetEvents, opts.loadSeconds, () => client.eventsSent);
  const more = (): boolean => client.eventsSent < opts.targetEvents || !opts.faultsDone();

  const connection = async (): Promise<void> => {
    while (more()) {
      const single = opts.random.chance(SINGLE_SHARE);
      const size = single ? 1 : opts.random.int(...BATCH_SIZE);
      const events = Array.from({ length: size }, () => opts.nextEvent());
      client.eventsSent += size;
      await pace(size);
      await send(opts, opts.random.pick(opts.users), events, single);
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, connection));
}

async function send(
  opts: LoadOptions,
  user: LoadUser,
  events: LogicalEvent[],
  single: boolean,
): Promise<void> {
  const { ledger, random } = opts;
  const { client } = ledger;
  const keys = opts.idempotencyKeys;
  const first = events[0]!;
  // Single events carry their key in the header or the body, so both ways are exercised.
  const keyInHeader = keys && single && random.chance(0.5);
  const withKey = (e: LogicalEvent) =>
    keys && !keyInHeader ? { ...e.body, idempotency_key: e.key } : e.body;
  const baseUrl = opts.baseUrls[client.requests % opts.baseUrls.length]!;
  const request = single
    ? {
        url: `${baseUrl}/api/v1/events`,
        body: withKey(first),
        headers: keyInHeader ? { 'Idempotency-Key': first.key } : undefined,
      }
    : {
        url: `${baseUrl}/api/v1/events/batch`,
        body: { events: events.map(withKey), sent_at: new Date().toISOString() },
        headers: undefined,
      };

  client.requests++;
  if (single) client.singleRequests++;
  else client.batchRequests++;
  const delivery = { opts, user, events, single, request };
  // An impatient client sends the same request again before the first answer: with keys, both
  // answers must name the same events.
  if (keys && random.chance(HEDGE_SHARE)) {
    client.hedged++;
    await Promise.all([
      deliver(delivery, false),
      sleep(random.int(...HEDGE_DELAY_MS)).then(() => deliver(delivery, true)),
    ]);
  } else {
    await deliver(delivery, false);
  }
}

/** Sends one request until it is answered 200/202, rejected, or its retry budget runs out. */
async function deliver(
  d: {
    opts: LoadOptions;
    user: LoadUser;
    events: LogicalEvent[];
    single: boolean;
    request: { url: string; body: unknown; headers: Record<string, string> | undefined };
  },
  isResend: boolean,
): Promise<void> {
  const { ledger, random } = d.opts;
  const { client } = ledger;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    client.attempts++;
    if (attempt > 1 || isResend) client.retries++;
    const outcome = await postJson(d.request.url, { token: d.user.token, ...d.request });
    if (outcome.kind === 'answer' && (outcome.status === 202 || outcome.status === 200)) {
      if (outcome.status === 200) client.replays++;
      const ids: unknown = d.single ? [outcome.body?.event_id] : outcome.body?.event_ids;
      if (!Array.isArray(ids) || ids.length !== d.events.length || !ids.every(isString)) {
        client.rejected++;
        sample(client.rejectedSamples, `${outcome.status} without ids: ${preview(outcome.body)}`);
        return;
      }
      ids.forEach((id, i) => ledger.accept(d.events[i]!, d.user.id, id, outcome.status));
      return;
    }
    const cause = outcome.kind === 'no-answer' ? outcome.cause : `HTTP ${outcome.status}`;
    ledger.countFailure(cause);
    const retryable =
      outcome.kind === 'no-answer' || outcome.status >= 500 || [408, 429].includes(outcome.status);
    if (!retryable) {
      client.rejected++;
      sample(
        client.rejectedSamples,
        `${cause}: ${preview(outcome.kind === 'answer' && outcome.body)}`,
      );
      return;
    }
    if (Date.now() - started > RETRY_BUDGET_MS) {
      client.abandoned++;
      client.abandonedEvents += d.events.length;
      return;
    }
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
    await sleep(backoff / 2 + random.next() * (backoff / 2));
  }
}

/**
 * Spaces requests so that `target` events are sent in about `seconds`, whatever the request
 * sizes. Like clients that buffer events while the service is down, it sends faster after an
 * outage to make up the time (up to MAX_CATCH_UP times the planned rate).
 */
function pacer(
  target: number,
  seconds: number,
  sent: () => number,
): (events: number) => Promise<void> {
  const base = target / seconds;
  const end = Date.now() + seconds * 1000;
  let next = Date.now();
  return async (events) => {
    const left = target - sent();
    const secondsLeft = Math.max((end - Date.now()) / 1000, 1);
    const rate =
      left > 0 ? Math.min(Math.max(left / secondsLeft, base), base * MAX_CATCH_UP) : base;
    const at = Math.max(next, Date.now());
    next = at + (events * 1000) / rate;
    await sleep(at - Date.now());
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

function sample(samples: string[], line: string): void {
  if (samples.length < 10) samples.push(line);
}

function preview(body: unknown): string {
  return JSON.stringify(body)?.slice(0, 300) ?? String(body);
}
