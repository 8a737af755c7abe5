import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../src/dev/child-process';
import type { RunPlan } from './plan';
import { createRandom, say, sleep, tally, type Random } from './support';

/** A client gives a request this long (all retries included) before it gives up on it. */
const RETRY_BUDGET_MS = 120_000;
const BACKOFF_MS = [200, 5_000] as const;
/** As common analytics SDKs: a service that holds a request longer sees it twice. */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * What each request is, by share of requests: REST single events and batches, and tracking
 * traffic as analytics SDKs send it, a browser's one message per `POST /v1/track` and
 * analytics-node's batches of 15 per `POST /v1/batch`. About one event in twenty is a REST
 * single: each is a workflow of its own, and a shared 2-core machine runs only a few of them a
 * second (tracking messages are grouped into batches by the service).
 */
const REQUEST_MIX = [
  ['single', 0.5],
  ['batch', 0.15],
  ['track', 0.25],
  ['tracking-batch', 0.1],
] as const;
type RequestKind = (typeof REQUEST_MIX)[number][0];
const BATCH_SIZE = [25, 75] as const;
/** analytics-node's default `flushAt`. */
const TRACKING_BATCH_SIZE = 15;
/** Share of requests sent twice, the second copy HEDGE_DELAY_MS after the first. */
const HEDGE_SHARE = 0.04;
const HEDGE_DELAY_MS = [0, 300] as const;
/** After an outage the clients send faster, to catch up, but not beyond this multiple. */
const MAX_CATCH_UP = 3;
/** Share of events whose payload nests 11 levels: accepted (202), then processed to `failed`. */
const INVALID_SHARE = 0.06;
const NAMES = [
  'page_view engagement',
  'click interaction',
  'form_submit conversion',
  'signup conversion',
];

/**
 * One event as the client means it: retries carry the same `seq` (stored in the payload as
 * `fault_seq`, or in a tracking message's properties, so duplicates can be found by it) and key
 * (a tracking message's `messageId`). An invalid one must end `failed`.
 */
type LogicalEvent = ReturnType<ReturnType<typeof createEventFactory>>;

export interface LoadUser {
  id: string;
  token: string;
}

/** Makes the run's events, each with a fresh `seq`. */
function createEventFactory(random: Random, runId: string) {
  let seq = 0;
  // An object `levels` deep; 10 is the most a valid payload may nest.
  const nested = (levels: number): unknown =>
    levels === 1 ? { leaf: true } : { next: nested(levels - 1) };
  return (tracking = false) => {
    seq++;
    const valid = !random.chance(INVALID_SHARE);
    const [eventName, eventType] = random.pick(NAMES).split(' ') as [string, string];
    const payload: Record<string, unknown> = {
      fault_seq: seq,
      page: `  /p/${random.int(1, 500)}  `,
      duration: random.int(0, 600),
      at: '2025-12-18T12:30:00+02:00',
    };
    // A tracking message's properties sit one level below its payload's top.
    const limit = tracking ? 8 : 9;
    if (!valid) payload.deep = nested(limit + 1);
    else if (random.chance(0.2)) payload.deep = nested(limit);
    const timestamp = random.chance(0.3) ? new Date().toISOString() : undefined;
    return {
      seq,
      valid,
      key: `${runId}-${seq}`,
      body: {
        event_name: eventName,
        event_type: eventType,
        payload,
        ...(timestamp ? { timestamp } : {}),
      },
      /** The same event as analytics.js or analytics-node sends it. */
      message: {
        type: 'track',
        event: eventName,
        anonymousId: `anon-${random.int(1, 50)}`,
        messageId: `${runId}-${seq}`,
        properties: payload,
        context: { library: { name: 'analytics.js', version: 'npm:next-1.84.3' } },
        ...(timestamp ? { timestamp } : {}),
      },
    };
  };
}

/** Request and retry counts, as the client saw them. */
const newClientFigures = () => ({
  requests: 0,
  singleRequests: 0,
  batchRequests: 0,
  /** Tracking requests: one message per `POST /v1/track`, or 15 per `POST /v1/batch`. */
  trackRequests: 0,
  trackingBatchRequests: 0,
  /** Tracking messages answered 200: stored, and to be found by their messageId. */
  messagesAccepted: 0,
  attempts: 0,
  retries: 0,
  hedged: 0,
  /** Answers 200: a retried key was recognised and the original event returned. */
  replays: 0,
  /** Requests given up after the retry budget; their events may or may not be stored. */
  abandoned: 0,
  abandonedEvents: 0,
  /** 4xx answers to requests the suite believes valid: a bug in the suite or the service. */
  rejected: 0,
  rejectedSamples: [] as string[],
  /** Logical events sent, each counted once however often retried. */
  eventsSent: 0,
  failuresByCause: {} as Record<string, number>,
});
export type ClientFigures = ReturnType<typeof newClientFigures>;

/** Every id an answer named, with its logical event; also appended to a file, for post-mortems. */
export class Ledger {
  /** Every id an answer gave for each event; more than one means a retry made a second event. */
  readonly accepted = new Map<number, { valid: boolean; ids: Set<string> }>();
  /** Which logical event each id was given for; an id named for two events is a mix-up. */
  readonly seqById = new Map<string, number>();
  readonly mixups: string[] = [];
  /**
   * Tracking messages answered 200, by `<user id> <messageId>`: the answer names no id, so the
   * check finds each by its messageId.
   */
  readonly messages = new Map<string, { event: LogicalEvent; userId: string }>();
  readonly client = newClientFigures();
  private readonly file;

  constructor(file: string) {
    this.file = createWriteStream(file, { flags: 'w' }).on('error', () => undefined);
  }

  accept(event: LogicalEvent, userId: string, id: string, status: number): void {
    this.resolve(event, id);
    const line = { seq: event.seq, id, valid: event.valid, user: userId, status };
    this.file.write(`${JSON.stringify(line)}\n`);
  }

  /** A tracking message answered 200 (a retried one may be answered again: it counts once). */
  acceptMessage(event: LogicalEvent, userId: string): void {
    const key = `${userId} ${event.message.messageId}`;
    if (this.messages.has(key)) return;
    this.messages.set(key, { event, userId });
    this.client.messagesAccepted++;
    const line = {
      seq: event.seq,
      messageId: event.message.messageId,
      valid: event.valid,
      user: userId,
    };
    this.file.write(`${JSON.stringify(line)}\n`);
  }

  /** Records `id` as the row of `event`: from an answer, or a tracking message's row. */
  resolve(event: LogicalEvent, id: string): void {
    const known = this.seqById.get(id);
    if (known !== undefined && known !== event.seq) {
      this.mixups.push(`${id} answered for events ${known} and ${event.seq}`);
    }
    this.seqById.set(id, event.seq);
    const entry = this.accepted.get(event.seq) ?? { valid: event.valid, ids: new Set<string>() };
    entry.ids.add(id);
    this.accepted.set(event.seq, entry);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }
}

/**
 * `clients` connections each send one request at a time, single events and batches mixed, paced
 * to a steady event rate. A request without an answer or with a 5xx is retried unchanged with
 * backoff, as a client would, with idempotency keys so that a retry cannot make a second event.
 */
export async function runLoad(
  plan: RunPlan,
  opts: {
    runDir: string;
    runId: string;
    /** Several API processes are taken in turn, as a round-robin load balancer would. */
    baseUrls: string[];
    users: LoadUser[];
    /** Load goes on (past the target if need be) until the faults are over. */
    faultsDone: () => boolean;
  },
): Promise<Ledger> {
  const random = createRandom(plan.seed);
  const nextEvent = createEventFactory(random, opts.runId);
  const ledger = new Ledger(path.join(opts.runDir, 'accepted.ndjson'));
  const { client } = ledger;
  const pace = pacer(plan.targetEvents, plan.loadSeconds, () => client.eventsSent);

  const send = async (): Promise<void> => {
    const kind = pickKind(random);
    const size = {
      single: 1,
      batch: random.int(...BATCH_SIZE),
      track: 1,
      'tracking-batch': TRACKING_BATCH_SIZE,
    }[kind];
    const tracking = kind === 'track' || kind === 'tracking-batch';
    const events = Array.from({ length: size }, () => nextEvent(tracking));
    client.eventsSent += events.length;
    await pace(events.length);
    const user = random.pick(opts.users);
    const baseUrl = opts.baseUrls[client.requests % opts.baseUrls.length]!;
    const request = tracking
      ? trackingRequest(baseUrl, kind, events, user)
      : restRequest(baseUrl, kind, events, user, random);
    client.requests++;
    client[
      (
        {
          single: 'singleRequests',
          batch: 'batchRequests',
          track: 'trackRequests',
          'tracking-batch': 'trackingBatchRequests',
        } as const
      )[kind]
    ]++;

    /** What a success answer says of the events: each REST event's id, or a stored request. */
    const accepted = (answer: { status: number; body: any }): string | undefined => {
      if (tracking) {
        if (answer.status !== 200 || answer.body?.success !== true) {
          return `${answer.status} without success: ${preview(answer.body)}`;
        }
        for (const e of events) ledger.acceptMessage(e, user.id);
        return undefined;
      }
      if (answer.status === 200) client.replays++;
      const ids: unknown = kind === 'single' ? [answer.body?.event_id] : answer.body?.event_ids;
      if (!Array.isArray(ids) || ids.length !== events.length || !ids.every(isString)) {
        return `${answer.status} without ids: ${preview(answer.body)}`;
      }
      ids.forEach((id, i) => ledger.accept(events[i]!, user.id, id, answer.status));
      return undefined;
    };

    /** Sends until answered 200/202, rejected, or the retry budget runs out. */
    const deliver = async (isResend: boolean): Promise<void> => {
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        client.attempts++;
        if (attempt > 1 || isResend) client.retries++;
        const answer = await post(request);
        if (answer.status === 202 || answer.status === 200) {
          const wrong = accepted(answer);
          if (wrong) reject(wrong);
          return;
        }
        const cause = answer.status === 0 ? answer.body : `HTTP ${answer.status}`;
        tally(client.failuresByCause, cause);
        if (answer.status > 0 && answer.status < 500 && ![408, 429].includes(answer.status)) {
          return reject(`${cause}: ${preview(answer.body)}`);
        }
        if (Date.now() - started > RETRY_BUDGET_MS) {
          client.abandoned++;
          client.abandonedEvents += events.length;
          return;
        }
        const backoff = Math.min(BACKOFF_MS[1], BACKOFF_MS[0] * 2 ** (attempt - 1));
        await sleep(backoff / 2 + random.next() * (backoff / 2));
      }
    };
    // An impatient client sends the same request again before the first answer: both answers
    // must name the same events.
    if (random.chance(HEDGE_SHARE)) {
      client.hedged++;
      await Promise.all([
        deliver(false),
        sleep(random.int(...HEDGE_DELAY_MS)).then(() => deliver(true)),
      ]);
    } else {
      await deliver(false);
    }
  };
  const reject = (sample: string): void => {
    client.rejected++;
    if (client.rejectedSamples.length < 10) client.rejectedSamples.push(sample);
  };

  const more = (): boolean => client.eventsSent < plan.targetEvents || !opts.faultsDone();
  const sent = () =>
    `${client.eventsSent} events sent, ${ledger.seqById.size + ledger.messages.size} accepted`;
  const progress = setInterval(() => say(`load: ${sent()}, ${client.retries} retries`), 15_000);
  await Promise.all(
    Array.from({ length: plan.clients }, async () => {
      while (more()) await send();
    }),
  ).finally(() => clearInterval(progress));
  await ledger.close();
  say(`load done: ${sent()}; waiting for quiescence`);
  return ledger;
}

function pickKind(random: Random): RequestKind {
  let r = random.next();
  for (const [kind, share] of REQUEST_MIX) {
    if (r < share) return kind;
    r -= share;
  }
  return REQUEST_MIX[0][0];
}

/**
 * A REST request: one event (its key in the `Idempotency-Key` header or the body, so both ways
 * are exercised) or a batch, with idempotency keys so that a retry cannot make a second event.
 */
function restRequest(
  baseUrl: string,
  kind: 'single' | 'batch',
  events: LogicalEvent[],
  user: LoadUser,
  random: Random,
): Request {
  const single = kind === 'single';
  const keyInHeader = single && random.chance(0.5);
  const withKey = (e: LogicalEvent) =>
    keyInHeader ? e.body : { ...e.body, idempotency_key: e.key };
  const [route, body] = single
    ? ['events', withKey(events[0]!)]
    : ['events/batch', { events: events.map(withKey), sent_at: new Date().toISOString() }];
  return new Request(`${baseUrl}/api/v1/${route}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: {
      authorization: `Bearer ${user.token}`,
      'content-type': 'application/json',
      ...(keyInHeader ? { 'Idempotency-Key': events[0]!.key } : {}),
    },
  });
}

/**
 * Tracking traffic as the SDKs send it: the write key (the user's token) as the Basic-auth user
 * name; a browser's single message as `text/plain` (analytics.js spares itself a CORS
 * preflight), analytics-node's batch as JSON. A retry repeats the messageIds.
 */
function trackingRequest(
  baseUrl: string,
  kind: 'track' | 'tracking-batch',
  events: LogicalEvent[],
  user: LoadUser,
): Request {
  const sentAt = new Date().toISOString();
  const single = kind === 'track';
  const body = single
    ? { ...events[0]!.message, sentAt }
    : { batch: events.map((e) => e.message), sentAt };
  return new Request(`${baseUrl}/v1/${single ? 'track' : 'batch'}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: {
      authorization: `Basic ${Buffer.from(`${user.token}:`).toString('base64')}`,
      'content-type': single ? 'text/plain' : 'application/json',
    },
  });
}

/**
 * One POST. Status 0 stands for no answer at all, with what broke (`timeout`, `ECONNRESET`…) as
 * the body; never throws.
 */
async function post(request: Request): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(request.clone(), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    try {
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch {
      return { status: res.status, body: text }; // a proxy's HTML error page, say
    }
  } catch (err) {
    const { name, cause } = err as { name?: string; cause?: { code?: string } };
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    return { status: 0, body: timedOut ? 'timeout' : (cause?.code ?? errorMessage(err)) };
  }
}

/**
 * Spaces requests so that `target` events are sent in about `seconds`. Like clients that buffer
 * events while the service is down, it sends faster after an outage to make up the time.
 */
function pacer(target: number, seconds: number, sent: () => number) {
  const base = target / seconds;
  const end = Date.now() + seconds * 1000;
  let next = Date.now();
  return async (events: number): Promise<void> => {
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
const preview = (body: unknown): string => JSON.stringify(body)?.slice(0, 300) ?? String(body);
