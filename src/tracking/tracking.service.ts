import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { newEventRow } from '../events/event-rows';
import type { InsertableEvent } from '../events/event-insert';
import type { GroupCommit } from '../events/group-commit';
import type { MessageGrouper } from '../events/message-grouper';
import type { User } from '../users/user.entity';
import { mapMessage, type MappedMessage } from './message-mapping';
import type { MessageType } from './message.schemas';

/** What became of a request's messages. */
export interface TrackingOutcome {
  /** Handed to processing (a messageId seen before among them stores nothing new). */
  accepted: number;
  /** Broke the message spec: stored `failed` with the reason. */
  rejected: number;
  /** Repeated a messageId of an earlier message of the same request: dropped. */
  duplicates: number;
}

/**
 * Rows one statement of a request carries at most: a request with more is stored in several,
 * with the event loop free in between, so a large batch never holds the API for long.
 */
export const TRACKING_INSERT_CHUNK = 500;

export interface TrackingServiceDeps {
  /** Stores the rows of concurrent requests together (see group-commit.ts). */
  inserts: GroupCommit;
  /** Tells the relay which user's messages wait for a group. */
  grouper: Pick<MessageGrouper, 'offer'>;
  /** Throws while the backlog is too deep to accept more (503 with Retry-After). */
  admit(): void;
  /** Told how many new events each request stored, for metrics. */
  onAccepted?: (count: number) => void;
}

/**
 * The Segment-compatible tracking API; HTTP-agnostic. Every message of every route (`/v1/track`
 * as much as `/v1/batch`) is committed as its own row and answered, then waits in PostgreSQL for
 * the relay to put it in a group of its sender's messages, processed by one batch workflow (see
 * message-grouper.ts): the request never maps to a workflow of its own. A message breaking the
 * spec is stored `failed` with its reason, so the sender can find it by status and its
 * neighbours are processed.
 */
export function createTrackingService({
  inserts,
  grouper,
  admit,
  onAccepted,
}: TrackingServiceDeps) {
  /** Stores one request's messages; `sentAt` is the request's own (a batch's envelope). */
  async function accept(
    user: User,
    messages: unknown[],
    sentAt: Date | undefined,
  ): Promise<TrackingOutcome> {
    admit();
    const receivedAt = new Date();
    const { kept, rejected, duplicates } = partition(messages.map(mapMessage));
    const rows: InsertableEvent[] = kept.map(({ event, rejection }) => {
      const row = newEventRow(user.id, event, { receivedAt, sentAt }, 'grouped');
      return rejection === null
        ? row
        : { ...row, status: 'failed', processingError: rejection, lastError: rejection };
    });
    let stored = 0;
    for (let i = 0; i < rows.length; i += TRACKING_INSERT_CHUNK) {
      if (i > 0) await yieldToEventLoop();
      const chunk = rows.slice(i, i + TRACKING_INSERT_CHUNK);
      const inserted = await inserts.insert(chunk);
      stored += inserted.size;
      grouper.offer(
        user.id,
        chunk.filter((r) => r.status === 'received' && inserted.has(r.id)).length,
      );
    }
    if (stored > 0) onAccepted?.(stored);
    return { accepted: kept.length - rejected, rejected, duplicates };
  }

  return {
    /** A batch request (`/v1/batch`, `/v1/import`, `/v1/b`). */
    acceptBatch(user: User, messages: unknown[], sentAt: Date | undefined) {
      return accept(user, messages, sentAt);
    },

    /** A single call (`/v1/track` and the like); the route names the type, as Segment's do. */
    acceptOne(user: User, message: Record<string, unknown>, type: MessageType) {
      return accept(user, [{ ...message, type }], undefined);
    },
  };
}

export type TrackingService = ReturnType<typeof createTrackingService>;

/**
 * Keeps only the first of the messages sharing a messageId: one request naming a message twice
 * means it once. Counts the rejected among those kept.
 */
function partition(mapped: MappedMessage[]): {
  kept: MappedMessage[];
  rejected: number;
  duplicates: number;
} {
  const seen = new Set<string>();
  const kept: MappedMessage[] = [];
  let rejected = 0;
  let duplicates = 0;
  for (const m of mapped) {
    const key = m.event.message_id;
    if (key !== undefined) {
      if (seen.has(key)) {
        duplicates += 1;
        continue;
      }
      seen.add(key);
    }
    kept.push(m);
    if (m.rejection !== null) rejected += 1;
  }
  return { kept, rejected, duplicates };
}
