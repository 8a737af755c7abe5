import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../logger';
import type { EventWorkflowStarter } from '../temporal/event-workflows';
import type { User } from '../users/user.entity';
import { createAdmission } from './admission';
import { createBatchService } from './batch.service';
import { listEvents } from './event-list';
import { EventSchema, type Event } from './event.entity';
import { newEventRow } from './event-rows';
import type { AcceptedEvent, CreateEventBody, ListEventsQuery } from './event.schemas';
import type { GroupCommit } from './group-commit';
import { existingByKey, refuseReusedKeys } from './idempotency';
import type { Outbox } from './outbox';
import { createReprocessService } from './reprocess.service';

/** An event with its payload and properties as the JSON text PostgreSQL holds. */
export interface StoredEvent {
  event: Event;
  payloadJson: string | null;
  propertiesJson: string | null;
}

export interface EventServiceDeps {
  /** Stores single events of concurrent requests together (see group-commit.ts). */
  inserts: GroupCommit;
  /** Starts the workflows of committed rows, after the answer. */
  outbox: Pick<Outbox, 'offer' | 'stats'>;
  /** Whether a workflow is running: reprocess asks before it starts a run of its own. */
  workflows: Pick<EventWorkflowStarter, 'isRunning'>;
  logger: Logger;
  /** Stored-but-unstarted events beyond which new ones are refused for now; 0 = no bound. */
  maxBacklog: number;
  /** statement_timeout of the listing (see `event-list.ts`); 0 = none. */
  listStatementTimeoutMs?: number;
}

/**
 * Accepting and reading events; HTTP-agnostic, so routes stay thin. A request's rows are
 * committed and answered `received`; their workflows start right after, off the request path
 * (see `outbox.ts`). The row is the source of truth and PostgreSQL the durable queue: whatever
 * happens to the process after the commit, the outbox's sweep starts what is left. Single
 * events are here; batches in batch.service.ts, reprocess in reprocess.service.ts, REST
 * idempotency in idempotency.ts, admission in admission.ts.
 */
export function createEventService({
  inserts,
  outbox,
  maxBacklog,
  workflows,
  logger,
  listStatementTimeoutMs = 0,
}: EventServiceDeps) {
  const admit = createAdmission({ outbox, maxBacklog });
  return {
    admit,
    ...createBatchService({ outbox, admit }),
    ...createReprocessService({ outbox, workflows, logger }),

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
      const inserted = await inserts.insert([row]);
      if (!inserted.has(row.id)) {
        const existing = await existingByKey(em, user.id, [row.idempotencyKey!]);
        refuseReusedKeys([row], existing, () => '$.idempotency_key');
        const original = existing.get(row.idempotencyKey!)!;
        return {
          created: false,
          event: {
            event_id: original.id,
            workflow_id: original.workflowId ?? null,
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

    /** The user's events, newest first (ids are time-ordered), one page after `cursor`. */
    list: (em: EntityManager, user: User, query: ListEventsQuery) =>
      listEvents(em, user, query, listStatementTimeoutMs),

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
  };
}

export type EventService = ReturnType<typeof createEventService>;
