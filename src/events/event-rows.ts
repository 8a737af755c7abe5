import { uuidv7 } from '../db/uuid';
import { stringifyExactly } from '../json/exact-json';
import { batchWorkflowId, eventWorkflowId } from '../temporal/workflow-ids';
import type { EventSource } from './event-source';
import type { EventRow, SET_BY_PROCESSING } from './event.entity';
import { correctedEventTime } from './event-time';
import type { EventInput } from './event.schemas';
import { eventFingerprint } from './request-fingerprint';

/** The request-level times every event of one request shares. */
export interface RequestTimes {
  receivedAt: Date;
  sentAt?: Date;
}

/**
 * What only some senders set, beside `EventInput`: the tracking API (`src/tracking`) names who
 * an event is about, and may carry a send time per event rather than per request.
 */
export interface EventExtras {
  subject_user_id?: string;
  anonymous_id?: string;
  /** This event's own `sent_at`; wins over the request's. */
  sent_at?: Date;
  /**
   * An analytics SDK's `messageId`. It names a message, not a request: a repeat is dropped
   * whatever its body, as SDKs expect (their retries carry new timestamps), so no fingerprint
   * is kept; and it lives in a key space of its own, apart from REST idempotency keys.
   */
  message_id?: string;
  /** Set by the tracking API; REST events are `api`. */
  source?: EventSource;
}

/**
 * Which workflow processes the row: its own (a REST single event), its batch's, or one the relay
 * picks later by putting it in a group of its sender's messages (a tracking message).
 */
export type Placement = { batchId: string } | 'own' | 'grouped';

/**
 * The row inserted for one accepted event: its columns but what processing sets, the payload
 * as JSON text exactly as it is to be stored (integers past 2^53 keep their digits, which a
 * JavaScript value cannot; event-insert.ts splices it in, never the ORM), `processed` left to
 * follow `status`, and no failure (a tracking message can start failed: `InsertableEvent`).
 */
export type NewEventRow = Omit<
  EventRow,
  (typeof SET_BY_PROCESSING)[number] | 'payload' | 'processed' | 'processingError' | 'lastError'
> & { payloadJson: string | null };

/** The row to insert for one accepted event (id made here: see `uuidv7`). */
export function newEventRow(
  userId: string,
  input: EventInput & EventExtras,
  requestTimes: RequestTimes,
  placement: Placement = 'own',
): NewEventRow {
  const times = { ...requestTimes, sentAt: input.sent_at ?? requestTimes.sentAt };
  const id = uuidv7(times.receivedAt.getTime());
  const batchId = typeof placement === 'object' ? placement.batchId : null;
  return {
    id,
    user: userId,
    eventName: input.event_name,
    eventType: input.event_type,
    payloadJson: input.payload == null ? null : stringifyExactly(input.payload),
    status: 'received',
    source: input.source ?? 'api',
    workflowId: batchId
      ? batchWorkflowId(batchId)
      : placement === 'grouped'
        ? null
        : eventWorkflowId(id),
    batch: batchId,
    idempotencyKey: input.idempotency_key ?? null,
    messageId: input.message_id ?? null,
    subjectUserId: input.subject_user_id ?? null,
    anonymousId: input.anonymous_id ?? null,
    // Hashing costs a pass over the payload; events without a key never need it.
    requestFingerprint: input.idempotency_key ? eventFingerprint(input) : null,
    clientTimestamp: input.timestamp ?? null,
    sentAt: times.sentAt ?? null,
    receivedAt: times.receivedAt,
    eventTime: correctedEventTime({ ...times, timestamp: input.timestamp }),
    createdAt: times.receivedAt,
    updatedAt: times.receivedAt,
  };
}
