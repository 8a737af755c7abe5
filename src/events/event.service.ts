import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import type { Logger } from '../logger';
import { eventWorkflowId, type EventWorkflowStarter } from '../temporal/event-workflows';
import type { User } from '../users/user.entity';
import { EventSchema, type Event } from './event.entity';
import type { EventStatus } from './event-status';
import type { EventInput } from './event.schemas';

export interface AcceptedEvent {
  event_id: string;
  workflow_id: string;
  status: EventStatus;
}

export interface EventServiceDeps {
  workflows: EventWorkflowStarter;
  logger: Logger;
}

/** Accepting and reading events; HTTP-agnostic, so routes stay thin. */
export function createEventService({ workflows, logger }: EventServiceDeps) {
  return {
    /**
     * Commits the event, then starts its workflow. The row is the source of truth: if Temporal
     * cannot be reached the event stays `received` and is still accepted; the recovery loop
     * starts its workflow later, and the workflow id makes a second start harmless.
     */
    async accept(em: EntityManager, user: User, input: EventInput): Promise<AcceptedEvent> {
      const id = uuidv7();
      const workflowId = eventWorkflowId(id);
      const now = new Date();
      await em.insert(EventSchema, {
        id,
        user: user.id,
        eventName: input.event_name,
        eventType: input.event_type,
        payload: input.payload ?? null,
        status: 'received',
        processed: false,
        workflowId,
        createdAt: now,
        updatedAt: now,
      });
      try {
        await workflows.startEvent({
          id,
          userId: user.id,
          eventName: input.event_name,
          eventType: input.event_type,
        });
      } catch (err) {
        logger.error(
          { err, event_id: id, workflow_id: workflowId },
          'could not start workflow; the event is stored and will be started by recovery',
        );
      }
      return { event_id: id, workflow_id: workflowId, status: 'received' };
    },

    /** The user's own event, or null: other users' events are indistinguishable from none. */
    async findOwn(em: EntityManager, user: User, id: string): Promise<Event | null> {
      return em.findOne(EventSchema, { id, user: user.id });
    },
  };
}

export type EventService = ReturnType<typeof createEventService>;
