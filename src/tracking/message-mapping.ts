import type { EventExtras } from '../events/event-rows';
import { EDGE_MAX_DEPTH, type EventInput } from '../events/event.schemas';
import { escapeUnstorable, findUnstorable } from '../http/storable-json';
import { isoDateTime, messageSchema, type Message } from './message.schemas';
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

/** An event as the tracking API hands it to the event service. */
export type TrackedEvent = EventInput & EventExtras;

/** A message mapped to an event; a `rejection` says why it cannot be processed. */
export interface MappedMessage {
  event: TrackedEvent;
  rejection: string | null;
}

/**
 * The envelope of a message: what the event's own columns hold instead (type, name, times,
 * idempotency key) and the write key, which must not end up stored beside the event.
 */
const ENVELOPE = [
  'type',
  'event',
  'messageId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
  'writeKey',
] as const;

/**
 * Maps one message of the Segment spec to an event (see docs/sdk.md):
 * - `event_type`: the message type;
 * - `event_name`: a track's `event`, a page's or screen's `name` (the type when it has none),
 *   the type for identify, group and alias;
 * - `payload`: the message minus its envelope, so properties or traits, context and ids;
 * - `userId`, `anonymousId`: the event's `subject_user_id` and `anonymous_id`;
 * - `messageId`: the message id, unique per user (a repeat stores nothing);
 * - `timestamp` (else `originalTimestamp`) and `sentAt`: the event's time, skew-corrected.
 *
 * A message breaking the spec is still mapped, as faithfully as it allows, with the reason: it
 * is stored failed, so the sender can find it, rather than silently dropped.
 */
export function mapMessage(raw: unknown): MappedMessage {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return rejected(
      { event_name: 'unknown', event_type: 'unknown', payload: null },
      'validation_error: $: a message must be a JSON object',
    );
  }
  const message = raw as Record<string, unknown>;
  const unstorable = findUnstorable(message, EDGE_MAX_DEPTH);
  if (unstorable) {
    return rejected(
      { ...bestEffort(message), payload: null },
      `validation_error: ${unstorable.path} ${unstorable.reason}`,
    );
  }
  const parsed = messageSchema.safeParse(message);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = ['$', ...issue.path.map(String)].join('.');
    return rejected(
      { ...bestEffort(message), payload: payloadOf(message) },
      `validation_error: ${path}: ${issue.message}`,
    );
  }
  return { event: toEvent(parsed.data, message), rejection: null };
}

function toEvent(m: Message, raw: Record<string, unknown>): TrackedEvent {
  return {
    event_type: m.type,
    event_name: eventName(m),
    payload: payloadOf(raw),
    timestamp: m.timestamp ?? m.originalTimestamp,
    message_id: m.messageId,
    source: 'tracking',
    subject_user_id: m.userId,
    anonymous_id: m.anonymousId,
    sent_at: m.sentAt,
  };
}

function eventName(m: Message): string {
  if (m.type === 'track') return m.event!;
  if (m.type === 'page' || m.type === 'screen') return m.name || m.type;
  return m.type;
}

function payloadOf(message: Record<string, unknown>): Record<string, unknown> {
  const payload = { ...message };
  for (const key of ENVELOPE) delete payload[key];
  return payload;
}

/** What of a message breaking the spec still fits the event's columns. */
function bestEffort(m: Record<string, unknown>): TrackedEvent {
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' &&
    v.trim() !== '' &&
    v.length <= SHORT_TEXT_LENGTH &&
    !findUnstorable(v, 1)
      ? v
      : undefined;
  const id = (v: unknown) => (typeof v === 'number' ? String(v) : text(v));
  const type = text(m.type) ?? 'unknown';
  const time = (v: unknown) => {
    const parsed = isoDateTime.safeParse(v);
    return parsed.success ? parsed.data : undefined;
  };
  return {
    event_type: type,
    event_name: text(m.event) ?? text(m.name) ?? type,
    message_id: text(m.messageId),
    source: 'tracking',
    subject_user_id: id(m.userId),
    anonymous_id: id(m.anonymousId),
    timestamp: time(m.timestamp) ?? time(m.originalTimestamp),
    sent_at: time(m.sentAt),
  };
}

/** The reason is stored with the event: whatever of the message it quotes must be storable. */
function rejected(event: TrackedEvent, reason: string): MappedMessage {
  return { event, rejection: escapeUnstorable(reason) };
}
