import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../db/sql';
import { EventAlreadyProcessedError, ServiceUnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { EventWorkflowStarter } from '../temporal/event-workflows';
import { eventWorkflowId } from '../temporal/workflow-ids';
import type { User } from '../users/user.entity';
import { markReceivedAgain } from './event-transitions';
import { EventSchema } from './event.entity';
import type { AcceptedEvent } from './event.schemas';
import type { Outbox } from './outbox';

/**
 * How long reprocess waits for a failed event's run to close before starting a new one: one
 * long poll for the run's close event, never a series of describes.
 */
const CLOSING_RUN_WAIT_MS = 5_000;

export interface ReprocessServiceDeps {
  /** Starts the new run once the event is claimed. */
  outbox: Pick<Outbox, 'offer'>;
  /** Whether a workflow is running: reprocess asks before it starts a run of its own. */
  workflows: Pick<EventWorkflowStarter, 'isRunning'>;
  logger: Logger;
}

/** `POST /api/v1/events/:id/reprocess`. */
export function createReprocessService({ outbox, workflows, logger }: ReprocessServiceDeps) {
  return {
    /**
     * Starts a new processing run of an event that has none: a failed one, after a fix, or one
     * left `queued` or `processing` by a run that was terminated, timed out or lost (nothing
     * else would ever move it on). Idempotent while a run is going on or about to: the call
     * reports that run and starts nothing. A `received` event is the outbox's, which starts it
     * (again, if its run ended before it was marked queued). The run gets the event's own workflow id, so
     * Temporal keeps earlier runs of it visible beside the new one.
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
      // Only Temporal knows whether an unfinished event's run is still alive. The status seen
      // here guards the claim, and Temporal refuses a second start of the same workflow id,
      // so concurrent calls start one run between them.
      // A failed event's run marks it failed as its last step and closes right after: a new
      // start before that would be refused as a duplicate of the closing run, and the event
      // left queued. So the closing run is waited for, briefly. Either way a request makes at
      // most two calls to Temporal (a describe, and that one long poll).
      const ranAs = event.workflowId ?? null;
      const runGone =
        event.status !== 'received' &&
        (ranAs === null ||
          !(await workflows
            .isRunning(ranAs, event.status === 'failed' ? CLOSING_RUN_WAIT_MS : 0)
            .catch((err: unknown) => {
              logger.warn({ err, workflow_id: event.workflowId }, 'could not describe workflow');
              throw new ServiceUnavailableError(
                'Temporal cannot tell whether the event is being processed; retry later',
              );
            })));
      const claimed =
        runGone && (await markReceivedAgain(sqlFor(em), id, event.status, workflowId));
      if (!claimed) {
        // Its run is still going on, or another call just claimed the event.
        const current = await em.findOneOrFail(
          EventSchema,
          { id },
          { fields: ['status', 'workflowId'] },
        );
        return {
          started: false,
          event: { event_id: id, workflow_id: current.workflowId ?? null, status: current.status },
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
  };
}
