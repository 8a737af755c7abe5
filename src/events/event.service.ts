import { raw, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import type { Logger } from '../logger';
import {
  batchWorkflowId,
  eventWorkflowId,
  type EventWorkflowStarter,
} from '../temporal/event-workflows';
import { EventAlreadyProcessedError } from '../errors';
import type { User } from '../users/user.entity';
import { BatchSchema, type Batch } from './batch.entity';
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
  /** Null when every event repeated a known idempotency key: no batch was stored. */
  batch_id: string | null;
  /** In request order: the new event, or the existing one a repeated idempotency key names. */
  event_ids: string[];
  workflow_id: string | null;
}

/** An event with its payload and properties as the JSON text PostgreSQL holds. */
export interface StoredEvent {
  event: Event;
  payloadJson: string | null;
  propertiesJson: string | null;
}

export interface EventServiceDeps {
  workflows: EventWorkflowStarter;
  logger: Logger;
}

/**
 * Accepting and reading events; HTTP-agnostic, so routes stay thin. Rows are committed before
 * any workflow starts: the row is the source of truth. If Temporal cannot be reached the
 * events are marked `waiting` and still accepted; the outbox relay starts their workflows
 * later, and the workflow id makes a second start harmless.
 */
export function createEventService({ workflows, logger }: EventServiceDeps) {
  /** Starts a workflow; on failure marks its events `waiting`. Returns the status to report. */
  async function startOrWait(
    em: EntityManager,
    start: () => Promise<unknown>,
    rows: { ids: string[]; log: Record<string, string> },
  ): Promise<EventStatus> {
    try {
      await start();
      return 'received';
    } catch (err) {
      logger.error(
        { err, ...rows.log },
        'could not start workflow; the events are stored as waiting and the outbox relay will start it',
      );
      // Guarded: if the start did reach Temporal after all, processing may have begun already.
      await em.nativeUpdate(
        EventSchema,
        { id: { $in: rows.ids }, status: 'received' },
        { status: 'waiting', updatedAt: new Date() },
      );
      return 'waiting';
    }
  }

  /** Inserts rows, skipping those whose idempotency key the user already used; returns new ids. */
  async function insertNew(em: EntityManager, newRows: NewEventRow[]): Promise<Set<string>> {
    const rows = newRows.map(withPayloadSql);
    if (!rows.some((r) => r.idempotencyKey)) {
      // The query builder, not em.insertMany, which would store the raw payload fragment as a
      // JSON string.
      await em.createQueryBuilder(EventSchema).insert(rows).execute('run');
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

  /**
   * The row with its payload as a `?::jsonb` parameter: the exact text reaches PostgreSQL, and
   * the ORM does not walk the payload as query parameters (a key named `constructor` made
   * its parameter validation throw).
   */
  function withPayloadSql({ payloadJson, ...row }: NewEventRow) {
    return { ...row, payload: payloadJson === null ? null : raw('?::jsonb', [payloadJson]) };
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
      const status = await startOrWait(
        em,
        () =>
          workflows.startEvent({
            id: row.id,
            userId: user.id,
            eventName: row.eventName,
            eventType: row.eventType,
          }),
        { ids: [row.id], log: { event_id: row.id, workflow_id: row.workflowId } },
      );
      return { created: true, event: { event_id: row.id, workflow_id: row.workflowId, status } };
    },

    /**
     * Stores the batch and its new events in one transaction, one multi-row insert. Events
     * whose idempotency key this user already used resolve to the existing events.
     */
    async acceptBatch(
      em: EntityManager,
      user: User,
      body: CreateBatchBody,
    ): Promise<{ created: number; batch: AcceptedBatch }> {
      const receivedAt = new Date();
      const batchId = uuidv7(receivedAt.getTime());
      const workflowId = batchWorkflowId(batchId);
      const rows = body.events.map((e) =>
        newEventRow(user.id, e, { receivedAt, sentAt: body.sent_at }, batchId),
      );
      const eventIds = await em.transactional(async (tx) => {
        await tx.insert(BatchSchema, {
          id: batchId,
          user: user.id,
          workflowId,
          eventCount: rows.length,
          sentAt: body.sent_at ?? null,
          receivedAt,
          createdAt: receivedAt,
        });
        const inserted = await insertNew(tx, rows);
        const repeated = rows.filter((r) => !inserted.has(r.id));
        if (repeated.length === 0) return rows.map((r) => r.id);
        const existing = await existingByKey(
          tx,
          user.id,
          repeated.map((r) => r.idempotencyKey!),
        );
        // Every event repeated a known key: an empty batch would name nothing, so none is kept.
        if (inserted.size === 0) await tx.nativeDelete(BatchSchema, { id: batchId });
        else await tx.nativeUpdate(BatchSchema, { id: batchId }, { eventCount: inserted.size });
        return rows.map((r) => (inserted.has(r.id) ? r.id : existing.get(r.idempotencyKey!)!.id));
      });
      const newIds = rows.map((r) => r.id).filter((id) => eventIds.includes(id));
      if (newIds.length === 0) {
        return { created: 0, batch: { batch_id: null, event_ids: eventIds, workflow_id: null } };
      }
      await startOrWait(em, () => workflows.startBatch({ id: batchId, userId: user.id }), {
        ids: newIds,
        log: { batch_id: batchId, workflow_id: workflowId },
      });
      return {
        created: newIds.length,
        batch: { batch_id: batchId, event_ids: eventIds, workflow_id: workflowId },
      };
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
      const status = await startOrWait(
        em,
        () =>
          workflows.startEvent({
            id,
            userId: user.id,
            eventName: event.eventName,
            eventType: event.eventType,
          }),
        { ids: [id], log: { event_id: id, workflow_id: workflowId } },
      );
      return { started: true, event: { event_id: id, workflow_id: workflowId, status } };
    },

    /**
     * The user's own event, or null: other users' events are indistinguishable from none. The
     * payload and properties come as jsonb's text, which holds every digit that was stored.
     */
    async findOwn(em: EntityManager, user: User, id: string): Promise<StoredEvent | null> {
      const [row] = await em.execute<Record<string, unknown>[]>(
        `select e.*, e.payload::text as payload_text, e.properties::text as properties_text
           from events e where e.id = ? and e.user_id = ?`,
        [id, user.id],
      );
      if (!row) return null;
      const { payload_text, properties_text, ...columns } = row;
      return {
        event: em.map(EventSchema, columns),
        payloadJson: (payload_text as string | null) ?? null,
        propertiesJson: (properties_text as string | null) ?? null,
      };
    },

    /** The user's own batch with its events' ids and statuses, or null. */
    async findOwnBatch(
      em: EntityManager,
      user: User,
      id: string,
    ): Promise<{ batch: Batch; events: { id: string; status: EventStatus }[] } | null> {
      const batch = await em.findOne(BatchSchema, { id, user: user.id });
      if (!batch) return null;
      const events = await em.find(
        EventSchema,
        { batch: id },
        { fields: ['id', 'status'], orderBy: { id: 'asc' } },
      );
      return { batch, events: events.map((e) => ({ id: e.id, status: e.status })) };
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
