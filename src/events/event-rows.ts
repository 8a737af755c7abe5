import { uuidv7 } from '../db/uuid';
import { stringifyExactly } from '../json/exact-json';
import { eventWorkflowId } from '../temporal/event-workflows';
import type { EventStatus } from './event-status';
import { correctedEventTime } from './event-time';
import type { EventInput } from './event.schemas';

/** The request-level times every event of one request shares. */
export interface RequestTimes {
  receivedAt: Date;
  sentAt?: Date;
}

/** The row inserted for one accepted event, in entity property names. */
export interface NewEventRow {
  id: string;
  user: string;
  eventName: string;
  eventType: string;
  /**
   * The payload as JSON text, exactly as it is to be stored: integers past 2^53 keep their
   * digits, which a JavaScript value cannot. Inserted as `::jsonb`, never walked by the ORM.
   */
  payloadJson: string | null;
  status: EventStatus;
  processed: boolean;
  workflowId: string;
  batch: string | null;
  idempotencyKey: string | null;
  clientTimestamp: Date | null;
  sentAt: Date | null;
  receivedAt: Date;
  eventTime: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** The row to insert for one accepted event (id made here: see `uuidv7`). */
export function newEventRow(
  userId: string,
  input: EventInput,
  times: RequestTimes,
  batchId: string | null = null,
): NewEventRow {
  const id = uuidv7(times.receivedAt.getTime());
  return {
    id,
    user: userId,
    eventName: input.event_name,
    eventType: input.event_type,
    payloadJson: input.payload == null ? null : stringifyExactly(input.payload),
    status: 'received',
    processed: false,
    workflowId: batchId ? `batch-${batchId}` : eventWorkflowId(id),
    batch: batchId,
    idempotencyKey: input.idempotency_key ?? null,
    clientTimestamp: input.timestamp ?? null,
    sentAt: times.sentAt ?? null,
    receivedAt: times.receivedAt,
    eventTime: correctedEventTime({ ...times, timestamp: input.timestamp }),
    createdAt: times.receivedAt,
    updatedAt: times.receivedAt,
  };
}
