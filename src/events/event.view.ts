import type { Batch } from './batch.entity';
import { Reference } from '@mikro-orm/core';
import { withJsonFields } from '../json/exact-json';
import { EventSchema, type Event } from './event.entity';
import { EVENT_STATUSES, type EventStatus } from './event-status';
import { eventListItemSchema, type BatchView, type EventListItem } from './event.schemas';

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
  return withJsonFields(toEventListItem(e), {
    payload: payloadJson,
    properties: propertiesJson,
  });
}

/**
 * Where each field of a listed event comes from: the entity property of its name in camel case,
 * a reference for an `_id` field (`batch_id`: the `batch` reference's id), but for the one field
 * the API names apart. Checked as the module loads: a field without its property fails at once.
 */
const LISTED = Object.keys(eventListItemSchema.shape).map((field) => {
  const renamed: Record<string, string> = { timestamp: 'clientTimestamp' };
  const properties: Record<string, { kind?: string }> = EventSchema.meta.properties;
  const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const reference = camel(field.replace(/_id$/, ''));
  const property =
    renamed[field] ??
    (camel(field) in properties
      ? camel(field)
      : properties[reference]?.kind === 'm:1'
        ? reference
        : undefined);
  if (!property) throw new Error(`the event view's ${field} names no event property`);
  return { field, property };
});

/** An event as `GET /api/v1/events` lists it: dates as ISO text, references as their ids. */
export function toEventListItem(e: Omit<Event, 'payload' | 'properties'>): EventListItem {
  const item: Record<string, unknown> = {};
  const values = e as unknown as Record<string, unknown>;
  for (const { field, property } of LISTED) {
    const value = values[property];
    item[field] =
      value instanceof Date
        ? value.toISOString()
        : Reference.isReference(value)
          ? (Reference.unwrapReference(value) as { id: string }).id
          : (value ?? null);
  }
  return item as EventListItem;
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
