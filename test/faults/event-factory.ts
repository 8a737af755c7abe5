import type { Random } from './random';

/** One event as the client means it: retries of its request carry the same `seq` and key. */
export interface LogicalEvent {
  /** Unique in the run; stored in the payload as `fault_seq`, so duplicates can be found by it. */
  seq: number;
  /** False when the payload breaks a processing rule: it must end `failed`, never `processed`. */
  valid: boolean;
  /** The idempotency key the client sends with it, when the service supports keys. */
  key: string;
  body: {
    event_name: string;
    event_type: string;
    payload: Record<string, unknown>;
    timestamp?: string;
  };
}

/** Share of events whose payload nests 11 levels: accepted (202), then processed to `failed`. */
const INVALID_SHARE = 0.06;
const NAMES = [
  ['page_view', 'engagement'],
  ['click', 'interaction'],
  ['form_submit', 'conversion'],
  ['signup', 'conversion'],
] as const;

/** Makes the run's events, each with a fresh `seq`. */
export function createEventFactory(random: Random, runId: string) {
  let seq = 0;
  return (): LogicalEvent => {
    seq++;
    const valid = !random.chance(INVALID_SHARE);
    const [eventName, eventType] = random.pick(NAMES);
    const payload: Record<string, unknown> = {
      fault_seq: seq,
      page: `  /p/${random.int(1, 500)}  `,
      duration: random.int(0, 600),
      at: '2025-12-18T12:30:00+02:00',
    };
    // 10 levels is the most a valid payload may nest, so valid ones sometimes go right up to it.
    if (!valid) payload.deep = nested(10);
    else if (random.chance(0.2)) payload.deep = nested(9);
    return {
      seq,
      valid,
      key: `${runId}-${seq}`,
      body: {
        event_name: eventName,
        event_type: eventType,
        payload,
        ...(random.chance(0.3) ? { timestamp: new Date().toISOString() } : {}),
      },
    };
  };
}

/** An object `levels` deep (`nested(1)` is `{leaf: true}`). */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < levels; i++) value = { next: value };
  return value;
}
