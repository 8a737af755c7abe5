import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import { batchWorkflowId, eventWorkflowId } from '../temporal/event-workflows';
import { BacklogFullError, EventAlreadyProcessedError } from '../errors';
import type { Outbox } from './outbox';
import type { User } from '../users/user.entity';
import { BatchSchema, type Batch } from './batch.entity';
import { insertBatchEvents } from './batch-insert';
import { EventSchema, type Event } from './event.entity';
import type { EventStatus } from './event-status';
import { newEventRow, type NewEventRow } from './event-rows';
import { toEventListItem, type EventListItem } from './event.view';
import type { CreateBatchBody, CreateEventBody, ListEventsQuery } from './event.schemas';

export interface AcceptedEvent {
  event_id: string;
  workflow_id: string;
  status: EventStatus;
}

export interface AcceptedBatch {
  batch_id: string;
  /** In request order: the new event, or the existing one a repeated idempotency key names. */
  event_ids: string[];
  workflow_id: string;
}

export interface EventServiceDeps {
  /** Starts the workflows of committed rows, after the answer. */
  outbox: Pick<Outbox, 'offer' | 'stats'>;
  /** Stored-but-unstarted events beyond which new ones are refused for now; 0 = no bound. */
  maxBacklog: number;
}

/**
 * Accepting and reading events; HTTP-agnostic, so routes stay thin. A request's rows are
 * committed and answered `received`; their workflows start right after, off the request path
 * (see `outbox.ts`). The row is the source of truth and PostgreSQL the durable queue: whatever
 * happens to the process after the commit, the outbox's sweep starts what is left.
 */
export function createEventService({ outbox, maxBacklog }: EventServiceDeps) {
  /** Refuses new events while more are stored than can be processed in reasonable time. */
  function admit(): void {
    if (maxBacklog === 0) return;
    const { unstarted, startRate } = outbox.stats();
    if (unstarted < maxBacklog) return;
    const retryAfterSec = Math.min(
      60,
      Math.max(1, Math.ceil((unstarted - maxBacklog + 1) / Math.max(1, startRate))),
    );
    throw new BacklogFullError(unstarted, retryAfterSec);
  }

  /** Inserts rows, skipping those whose idempotency key the user already used; returns new ids. */
  async function insertNew(em: EntityManager, rows: NewEventRow[]): Promise<Set<string>> {
    if (!rows.some((r) => r.idempotencyKey)) {
      if (rows.length === 1) await em.insert(EventSchema, rows[0]!);
      else await em.insertMany(EventSchema, rows);
      return new Set(rows.map((r) => r.id));
    }
    const inserted: { id: string }[] = await em
      .createQueryBuilder(EventSchema)
      .insert(rows)
      .onConflict(['user', 'idempotencyKey'])
      .ignore()
      .returning(['id'])
      .execute('all');
    return new Set(inserted.map((r) => r.id));
  }

  async function existingByKey(em: EntityManager, userId: string, keys: string[]) {
    const found = await em.find(
      EventSchema,
      { user: userId, idempotencyKey: { $in: keys } },
      { fields: ['id', 'idempotencyKey', 'status', 'workflowId'] },
    );
    return new Map(found.map((e) => [e.idempotencyKey!, e]));
  }

  return {
    /**
     * Accepts one event. With an idempotency key already used by this user, stores nothing,
     * starts nothing, and returns the original event with `created: false`.
     */
    async accept(
      em: EntityManager,
      user: User,
      body: CreateEventBody,
    ): Promise<{ created: boolean; event: AcceptedEvent }> {
      admit();
      const row = newEventRow(user.id, body, { receivedAt: new Date(), sentAt: body.sent_at });
      const inserted = await insertNew(em, [row]);
      if (!inserted.has(row.id)) {
        const original = (await existingByKey(em, user.id, [row.idempotencyKey!])).get(
          row.idempotencyKey!,
        )!;
        return {
          created: false,
          event: {
            event_id: original.id,
            workflow_id: original.workflowId,
            status: original.status,
          },
        };
      }
      outbox.offer({
        kind: 'event',
        id: row.id,
        userId: user.id,
        eventName: row.eventName,
        eventType: row.eventType,
      });
      return {
        created: true,
        event: { event_id: row.id, workflow_id: row.workflowId, status: 'received' },
      };
    },

    /**
     * Stores the batch and its new events in one transaction, one insert statement. Events
     * whose idempotency key this user already used resolve to the existing events.
     */
    async acceptBatch(
      em: EntityManager,
      user: User,
      body: CreateBatchBody,
    ): Promise<AcceptedBatch> {
      admit();
      const receivedAt = new Date();
      const batchId = uuidv7(receivedAt.getTime());
      const workflowId = batchWorkflowId(batchId);
      const rows = body.events.map((e) =>
        newEventRow(user.id, e, { receivedAt, sentAt: body.sent_at }, batchId),
      );
      const { eventIds, inserted } = await em.transactional(async (tx) => {
        await tx.insert(BatchSchema, {
          id: batchId,
          user: user.id,
          workflowId,
          eventCount: rows.length,
          sentAt: body.sent_at ?? null,
          receivedAt,
          createdAt: receivedAt,
        });
        const inserted = await insertBatchEvents(
          tx,
          { userId: user.id, batchId, workflowId, receivedAt },
          rows,
        );
        const ids = rows.map((r) => r.id);
        if (inserted.size === rows.length) return { eventIds: ids, inserted };
        const repeated = rows.filter((r) => !inserted.has(r.id));
        const existing = await existingByKey(
          tx,
          user.id,
          repeated.map((r) => r.idempotencyKey!),
        );
        await tx.nativeUpdate(BatchSchema, { id: batchId }, { eventCount: inserted.size });
        return {
          eventIds: rows.map((r) =>
            inserted.has(r.id) ? r.id : existing.get(r.idempotencyKey!)!.id,
          ),
          inserted,
        };
      });
      if (inserted.size > 0) outbox.offer({ kind: 'batch', id: batchId, userId: user.id });
      return { batch_id: batchId, event_ids: eventIds, workflow_id: workflowId };
    },

    /** The user's events, newest first (ids are time-ordered), one page after `cursor`. */
    async list(
      em: EntityManager,
      user: User,
      query: ListEventsQuery,
    ): Promise<{ events: EventListItem[]; nextCursor: string | null }> {
      const where: FilterQuery<Event> = { user: user.id };
      if (query.status) where.status = query.status;
      if (query.event_name) where.eventName = query.event_name;
      if (query.event_type) where.eventType = query.event_type;
      if (query.subject_user_id) where.subjectUserId = query.subject_user_id;
      if (query.anonymous_id) where.anonymousId = query.anonymous_id;
      if (query.cursor) where.id = { $lt: query.cursor };
      const rows = await em.find(EventSchema, where, {
        orderBy: { id: 'desc' },
        limit: query.limit + 1,
        exclude: ['payload', 'properties'],
      });
      const page = rows.slice(0, query.limit);
      return {
        events: page.map(toEventListItem),
        nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null,
      };
    },

    /**
     * Starts a new processing run of a failed event, after a fix. Idempotent while a run is
     * going on: a second call reports that run and starts nothing. The run gets the event's
     * own workflow id, so Temporal keeps earlier runs of it visible beside the new one.
     */
    async reprocess(
      em: EntityManager,
      user: User,
      id: string,
    ): Promise<{ started: boolean; event: AcceptedEvent } | null> {
      const event = await em.findOne(
        EventSchema,
        { id, user: user.id },
        { exclude: ['payload', 'properties'] },
      );
      if (!event) return null;
      if (event.status === 'processed') throw new EventAlreadyProcessedError(id);
      const workflowId = eventWorkflowId(id);
      const claimed = await em.nativeUpdate(
        EventSchema,
        { id, status: 'failed' },
        { status: 'received', workflowId, updatedAt: new Date() },
      );
      if (claimed === 0) {
        // Not failed (any more): a run is already on its way.
        const current = await em.findOneOrFail(
          EventSchema,
          { id },
          { fields: ['status', 'workflowId'] },
        );
        return {
          started: false,
          event: { event_id: id, workflow_id: current.workflowId, status: current.status },
        };
      }
      outbox.offer({
        kind: 'event',
        id,
        userId: user.id,
        eventName: event.eventName,
        eventType: event.eventType,
      });
      return {
        started: true,
        event: { event_id: id, workflow_id: workflowId, status: 'received' },
      };
    },

    /** The user's own event, or null: other users' events are indistinguishable from none. */
    async findOwn(em: EntityManager, user: User, id: string): Promise<Event | null> {
      return em.findOne(EventSchema, { id, user: user.id });
    },

    /** The user's own batch with its events' ids and statuses, or null. */
    async findOwnBatch(
      em: EntityManager,
      user: User,
      id: string,
    ): Promise<{ batch: Batch; events: { id: string; status: EventStatus }[] } | null> {
      const batch = await em.findOne(BatchSchema, { id, user: user.id });
      if (!batch) return null;
      // Plain rows, not entities: a batch may hold 100,000 events (BATCH_MAX_EVENTS), and
      // hydrating each into the identity map would cost far more than the query.
      const events = await em.execute<{ id: string; status: EventStatus }[]>(
        'select id, status from events where batch_id = ? order by id',
        [id],
      );
      return { batch, events };
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
