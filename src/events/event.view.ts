import type { Batch } from './batch.entity';
import type { Event } from './event.entity';
import { EVENT_STATUSES, type EventStatus } from './event-status';
import type { BatchView, EventListItem } from './event.schemas';

/**
 * An event as `GET /api/v1/events/:id` shows it (`EventView`), as JSON text: the list item with
 * the payload and properties spliced in as stored JSON text:
 * a JavaScript value would round integers past 2^53, which jsonb keeps exactly.
 */
export function toEventViewJson(
  e: Omit<Event, 'payload' | 'properties'>,
  payloadJson: string | null,
  propertiesJson: string | null,
): string {
  const head = JSON.stringify(toEventListItem(e));
  return `${head.slice(0, -1)},"payload":${payloadJson ?? 'null'},"properties":${propertiesJson ?? 'null'}}`;
}

/** An event as `GET /api/v1/events` lists it. */
export function toEventListItem(e: Omit<Event, 'payload' | 'properties'>): EventListItem {
  return {
    id: e.id,
    event_name: e.eventName,
    event_type: e.eventType,
    status: e.status,
    processed: e.processed,
    processed_at: e.processedAt?.toISOString() ?? null,
    processing_error: e.processingError ?? null,
    attempts: e.attempts,
    last_error: e.lastError ?? null,
    workflow_id: e.workflowId ?? null,
    batch_id: e.batch?.id ?? null,
    plan_version: e.planVersion ?? null,
    violations: e.violations ?? null,
    subject_user_id: e.subjectUserId ?? null,
    anonymous_id: e.anonymousId ?? null,
    timestamp: e.clientTimestamp?.toISOString() ?? null,
    sent_at: e.sentAt?.toISOString() ?? null,
    received_at: e.receivedAt.toISOString(),
    event_time: e.eventTime.toISOString(),
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

/** A batch as `GET /api/v1/batches/:id` shows it. */
export function toBatchView(
  batch: Batch,
  events: { id: string; status: EventStatus }[],
): BatchView {
  const counts = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as Record<
    EventStatus,
    number
  >;
  for (const e of events) counts[e.status] += 1;
  const done = counts.processed + counts.failed === events.length;
  return {
    id: batch.id,
    workflow_id: batch.workflowId,
    status: done ? 'completed' : 'processing',
    total_events: events.length,
    counts,
    event_ids: events.map((e) => e.id),
    sent_at: batch.sentAt?.toISOString() ?? null,
    received_at: batch.receivedAt.toISOString(),
  };
}
