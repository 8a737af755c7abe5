import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import type { Logger } from '../logger';
import { batchWorkflowId, type EventWorkflowStarter } from '../temporal/event-workflows';
import type { User } from '../users/user.entity';
import { BatchSchema, type Batch } from './batch.entity';
import { EventSchema, type Event } from './event.entity';
import type { EventStatus } from './event-status';
import { newEventRow } from './event-rows';
import type { CreateBatchBody, CreateEventBody } from './event.schemas';

export interface AcceptedEvent {
  event_id: string;
  workflow_id: string;
  status: EventStatus;
}

export interface AcceptedBatch {
  batch_id: string;
  event_ids: string[];
  workflow_id: string;
}

export interface EventServiceDeps {
  workflows: EventWorkflowStarter;
  logger: Logger;
}

/**
 * Accepting and reading events; HTTP-agnostic, so routes stay thin. Rows are committed before
 * any workflow starts: the row is the source of truth. If Temporal cannot be reached the
 * events stay `received` and are still accepted; recovery starts their workflows later, and
 * the workflow id makes a second start harmless.
 */
export function createEventService({ workflows, logger }: EventServiceDeps) {
  async function startOrDefer(start: () => Promise<unknown>, ids: Record<string, string>) {
    try {
      await start();
    } catch (err) {
      logger.error(
        { err, ...ids },
        'could not start workflow; the events are stored and recovery will start it',
      );
    }
  }

  return {
    async accept(em: EntityManager, user: User, body: CreateEventBody): Promise<AcceptedEvent> {
      const row = newEventRow(user.id, body, { receivedAt: new Date(), sentAt: body.sent_at });
      await em.insert(EventSchema, row);
      await startOrDefer(
        () =>
          workflows.startEvent({
            id: row.id,
            userId: user.id,
            eventName: row.eventName,
            eventType: row.eventType,
          }),
        { event_id: row.id, workflow_id: row.workflowId },
      );
      return { event_id: row.id, workflow_id: row.workflowId, status: 'received' };
    },

    /** Stores the batch and all its events in one transaction, one multi-row insert. */
    async acceptBatch(
      em: EntityManager,
      user: User,
      body: CreateBatchBody,
    ): Promise<AcceptedBatch> {
      const receivedAt = new Date();
      const batchId = uuidv7(receivedAt.getTime());
      const workflowId = batchWorkflowId(batchId);
      const rows = body.events.map((e) =>
        newEventRow(user.id, e, { receivedAt, sentAt: body.sent_at }, batchId),
      );
      await em.transactional(async (tx) => {
        await tx.insert(BatchSchema, {
          id: batchId,
          user: user.id,
          workflowId,
          eventCount: rows.length,
          sentAt: body.sent_at ?? null,
          receivedAt,
          createdAt: receivedAt,
        });
        await tx.insertMany(EventSchema, rows);
      });
      await startOrDefer(() => workflows.startBatch({ id: batchId, userId: user.id }), {
        batch_id: batchId,
        workflow_id: workflowId,
      });
      return { batch_id: batchId, event_ids: rows.map((r) => r.id), workflow_id: workflowId };
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
