import type { EntityManager } from '@mikro-orm/postgresql';
import { insertEvents } from '../events/event-insert';
import { newEventRow } from '../events/event-rows';
import type { EventService } from '../events/event.service';
import type { User } from '../users/user.entity';
import { mapMessage, type MappedMessage, type TrackedEvent } from './message-mapping';
import type { MessageType } from './message.schemas';

/** What became of a request's messages. */
export interface TrackingOutcome {
  /** Handed to processing (a repeated messageId among them stores nothing new). */
  accepted: number;
  /** Broke the message spec: stored `failed` with the reason. */
  rejected: number;
  /** Repeated a messageId of an earlier message of the same request: dropped. */
  duplicates: number;
}

export interface TrackingServiceDeps {
  events: EventService;
  /** The largest batch the event service takes; a longer request becomes several batches. */
  batchMaxEvents: number;
}

/**
 * The Segment-compatible tracking API over the event service; HTTP-agnostic. Valid messages go
 * through the same acceptance as any other event (a batch request as a batch, a single call as
 * a single event); a message breaking the spec is stored `failed` with its reason, beside the
 * batch rather than in it, so its neighbours are processed and it is found by status.
 */
export function createTrackingService({ events, batchMaxEvents }: TrackingServiceDeps) {
  /** Stores rejected messages as failed events; a messageId already used stores nothing. */
  async function storeRejected(
    em: EntityManager,
    user: User,
    rejected: MappedMessage[],
    receivedAt: Date,
    sentAt: Date | undefined,
  ): Promise<void> {
    if (rejected.length === 0) return;
    const rows = rejected.map(({ event, rejection }) => ({
      ...newEventRow(user.id, event, { receivedAt, sentAt }),
      status: 'failed' as const,
      processingError: rejection,
      lastError: rejection,
    }));
    await insertEvents(em, rows);
  }

  return {
    /**
     * A batch request: its valid messages are accepted as one batch (several, past the
     * largest batch size) and processed by the batch workflow.
     */
    async acceptBatch(
      em: EntityManager,
      user: User,
      messages: unknown[],
      sentAt: Date | undefined,
    ): Promise<TrackingOutcome> {
      const receivedAt = new Date();
      const { valid, rejected, duplicates } = partition(messages.map(mapMessage));
      for (let i = 0; i < valid.length; i += batchMaxEvents) {
        await events.acceptBatch(em, user, {
          events: valid.slice(i, i + batchMaxEvents),
          sent_at: sentAt,
        });
      }
      await storeRejected(em, user, rejected, receivedAt, sentAt);
      return { accepted: valid.length, rejected: rejected.length, duplicates };
    },

    /** A single call (`/v1/track` and the like): one event through the single-event path. */
    async acceptOne(
      em: EntityManager,
      user: User,
      message: Record<string, unknown>,
      type: MessageType,
    ): Promise<TrackingOutcome> {
      // The route names the type, as Segment's single-call endpoints do.
      const mapped = mapMessage({ ...message, type });
      if (mapped.rejection !== null) {
        await storeRejected(em, user, [mapped], new Date(), mapped.event.sent_at);
        return { accepted: 0, rejected: 1, duplicates: 0 };
      }
      await events.accept(em, user, mapped.event);
      return { accepted: 1, rejected: 0, duplicates: 0 };
    },
  };
}

export type TrackingService = ReturnType<typeof createTrackingService>;

/**
 * Splits mapped messages into valid and rejected ones, keeping only the first of those sharing
 * a messageId: one request naming a message twice means it once.
 */
function partition(mapped: MappedMessage[]): {
  valid: TrackedEvent[];
  rejected: MappedMessage[];
  duplicates: number;
} {
  const seen = new Set<string>();
  const valid: TrackedEvent[] = [];
  const rejected: MappedMessage[] = [];
  let duplicates = 0;
  for (const m of mapped) {
    const key = m.event.idempotency_key;
    if (key !== undefined) {
      if (seen.has(key)) {
        duplicates += 1;
        continue;
      }
      seen.add(key);
    }
    if (m.rejection === null) valid.push(m.event);
    else rejected.push(m);
  }
  return { valid, rejected, duplicates };
}
