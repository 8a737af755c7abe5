import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Orm } from '../src/db/orm';
import { raw } from '@mikro-orm/core';
import { EventSchema } from '../src/events/event.entity';
import { parseExactly, stringifyExactly } from '../src/json/exact-json';
import type { Logger } from '../src/logger';
import { EVENT_NOT_FOUND_ERROR, PAYLOAD_VALIDATION_ERROR } from '../workflows/failure-types';
import type { EventFailure, EventSummary } from '../workflows/types';
import { buildProperties } from './payload-normalization';
import {
  PayloadValidationError,
  validatePayloadShape,
  validateRequiredFields,
} from './payload-rules';

export interface ActivityDeps {
  orm: Orm;
  logger: Logger;
}

/**
 * The steps of `processEventWorkflow`. Each takes the event id, opens its own unit of work,
 * reads what it needs from PostgreSQL and is safe to run twice: Temporal may retry any of them.
 * Database errors are thrown as they are, so Temporal retries them with backoff; broken payload
 * rules are thrown as non-retryable `PayloadValidationError` failures.
 */
export function createProcessingActivities({ orm, logger }: ActivityDeps) {
  const eventLog = (eventId: string) =>
    logger.child({
      event_id: eventId,
      workflow_id: Context.current().info.workflowExecution?.workflowId,
      activity: Context.current().info.activityType,
      attempt: Context.current().info.attempt,
    });

  return {
    /** Loads the event and its user, and moves the event to `processing` unless already done. */
    async fetchEvent(eventId: string): Promise<EventSummary> {
      const em = orm.em.fork();
      const event = await em.findOne(
        EventSchema,
        { id: eventId },
        { populate: ['user'], exclude: ['payload', 'properties'] },
      );
      if (!event) {
        throw ApplicationFailure.create({
          type: EVENT_NOT_FOUND_ERROR,
          message: `event ${eventId} does not exist`,
          nonRetryable: true,
        });
      }
      if (event.status !== 'processed') {
        await em.execute(
          `update events
              set status = 'processing', updated_at = now(),
                  attempts = attempts + (last_run_id is distinct from ?)::int, last_run_id = ?
            where id = ? and status <> 'processed'`,
          [runId(), runId(), eventId],
        );
      }
      eventLog(eventId).info({ user_id: event.user.id }, 'processing started');
      return {
        eventId,
        userId: event.user.id,
        eventName: event.eventName,
        eventType: event.eventType,
        processedAt:
          event.status === 'processed' ? (event.processedAt?.toISOString() ?? null) : null,
      };
    },

    /** Applies the payload shape rules; a violation is final and never retried. */
    async validatePayload(eventId: string): Promise<void> {
      const event = await loadForProcessing(orm, eventId);
      try {
        validateRequiredFields(event);
        validatePayloadShape(event.payload);
      } catch (err) {
        if (!(err instanceof PayloadValidationError)) throw err;
        eventLog(eventId).warn({ error: err.message }, 'payload validation failed');
        throw ApplicationFailure.create({
          type: PAYLOAD_VALIDATION_ERROR,
          message: err.message,
          nonRetryable: true,
        });
      }
    },

    /** Stores the normalized payload with its metadata in `properties`. */
    async normalizePayload(eventId: string): Promise<void> {
      const event = await loadForProcessing(orm, eventId);
      const properties = buildProperties(validatePayloadShape(event.payload), {
        userId: event.user.id,
        normalizedAt: new Date(),
      });
      await orm.em.fork().nativeUpdate(
        EventSchema,
        { id: eventId, status: { $ne: 'processed' } },
        // As exact JSON text: the ORM would walk the value as query parameters (a payload
        // key named `constructor` made that throw) and round integers past 2^53.
        { properties: raw('?::jsonb', [stringifyExactly(properties)]), updatedAt: new Date() },
      );
    },

    /**
     * Marks the event processed in one statement, guarded so that a second run changes nothing:
     * processed_at is written once, and the first value is what every run returns.
     */
    async persistEvent(eventId: string): Promise<{ processedAt: string }> {
      const em = orm.em.fork();
      // Raw rows carry timestamps as strings: MikroORM leaves their parsing to its entity mapping.
      const rows = await em.execute<{ processed_at: string }[]>(
        `update events
            set status = 'processed', processed = true, processed_at = now(),
                processing_error = null, updated_at = now()
          where id = ? and status <> 'processed' and properties is not null
          returning processed_at`,
        [eventId],
      );
      const written = rows[0]?.processed_at;
      if (written) {
        eventLog(eventId).info('event processed');
        return { processedAt: new Date(written).toISOString() };
      }
      const current = await em.findOne(EventSchema, { id: eventId }, { fields: ['processedAt'] });
      if (!current?.processedAt) {
        // Properties are missing only if normalizePayload's write was lost; retrying the
        // workflow's chain from the top is the way out, not retrying this step.
        throw ApplicationFailure.create({
          message: `event ${eventId} has no normalized properties to persist`,
          nonRetryable: true,
        });
      }
      return { processedAt: current.processedAt.toISOString() };
    },

    /** Records why processing gave up; a processed event is never marked failed. */
    async markEventFailed(eventId: string, failure: EventFailure): Promise<void> {
      await orm.em.fork().nativeUpdate(
        EventSchema,
        { id: eventId, status: { $ne: 'processed' } },
        {
          status: 'failed',
          processed: false,
          processingError: `${failure.kind}: ${failure.message}`,
          lastError: `${failure.kind}: ${failure.message}`,
          updatedAt: new Date(),
        },
      );
      eventLog(eventId).warn({ kind: failure.kind, error: failure.message }, 'event failed');
    },
  };
}

/** The current workflow run; attempts are counted per run. */
function runId(): string | null {
  return Context.current().info.workflowExecution?.runId ?? null;
}

async function loadForProcessing(orm: Orm, eventId: string) {
  const event = await orm.em
    .fork()
    .findOne(EventSchema, { id: eventId }, { fields: ['eventName', 'eventType', 'user'] });
  if (!event) {
    throw ApplicationFailure.create({
      type: EVENT_NOT_FOUND_ERROR,
      message: `event ${eventId} does not exist`,
      nonRetryable: true,
    });
  }
  // As text, parsed exactly: integers past 2^53 keep their digits (see exact-json.ts).
  const [row] = await orm.em
    .fork()
    .execute<{ payload: string | null }[]>(
      'select payload::text as payload from events where id = ?',
      [eventId],
    );
  const payload = row?.payload == null ? null : parseExactly(row.payload);
  return { ...event, user: event.user, payload };
}
