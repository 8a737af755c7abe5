import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Orm } from '../src/db/orm';
import { createSql, type Sql } from '../src/db/sql';
import {
  claimForProcessing,
  markFailed,
  markFailedOnPlan,
  markProcessed,
  recordViolations,
} from '../src/events/event-transitions';
import { stringifyExactly } from '../src/json/exact-json';
import type { Logger } from '../src/logger';
import { EVENT_NOT_FOUND_ERROR, PAYLOAD_VALIDATION_ERROR } from '../workflows/failure-types';
import type { EventFailure, EventSummary } from '../workflows/types';
import { AcceptedPayloads } from './accepted-payloads';
import { UNCOUNTED, type EventOutcomes } from './event-outcomes';
import { buildProperties } from './payload-normalization';
import {
  acceptedPayload,
  judgeEvent,
  readEventsToJudge,
  type EventToJudge,
} from './event-judgement';
import { createPlanCache, type PlanCache } from './plan-cache';

export interface ActivityDeps {
  orm: Orm;
  logger: Logger;
  /** Told of every event the activities end; the worker's metrics count them. */
  outcomes?: EventOutcomes;
  /** Compiled tracking plans, shared by the activities of one worker. */
  plans?: PlanCache;
  /** Payloads validated and not yet normalized, by run; see `AcceptedPayloads`. */
  accepted?: AcceptedPayloads;
}

/**
 * The steps of `processEventWorkflow`. Each takes the event id, opens its own unit of work,
 * reads what it needs from PostgreSQL and is safe to run twice: Temporal may retry any of them.
 * Database errors are thrown as they are, so Temporal retries them with backoff; broken payload
 * rules and tracking plans are thrown as non-retryable `PayloadValidationError` failures.
 */
export function createProcessingActivities({
  orm,
  logger,
  outcomes = UNCOUNTED,
  plans = createPlanCache(createSql(orm)),
  accepted = new AcceptedPayloads(),
}: ActivityDeps) {
  const sql = createSql(orm);
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
      const columns = 'user_id, event_name, event_type, status, processed_at';
      // One statement in the usual case; only an event that was not taken up is read again.
      const [taken] = await claimForProcessing<FetchedRow>(sql, { eventId }, runId(), columns);
      const [event] = taken
        ? [taken]
        : await sql<FetchedRow>(`select ${columns} from events where id = $1`, [eventId]);
      if (!event) throw eventNotFound(eventId);
      eventLog(eventId).info({ user_id: event.user_id }, 'processing started');
      return {
        eventId,
        userId: event.user_id,
        eventName: event.event_name,
        eventType: event.event_type,
        processedAt: event.status === 'processed' ? toIso(event.processed_at) : null,
      };
    },

    /**
     * Applies the payload shape rules, then the tracking plan version recorded on the event; a
     * violation of either is final and never retried. A plan in `report` mode records its
     * violations and lets the event on; in `enforce` mode the event is marked failed here, with
     * every violation in `processing_error`, and the failure thrown names none of them: workflow
     * history holds nothing of the payload or the plan.
     */
    async validatePayload(eventId: string): Promise<void> {
      const event = await readEvent(sql, eventId);
      const plan =
        event.plan_version === null
          ? undefined
          : await plans.get(event.user_id, event.plan_version);
      const judged = judgeEvent(event, plan);
      if (judged.kind === 'invalid') {
        // Recorded on the event by markEventFailed, which the workflow runs on this failure.
        eventLog(eventId).warn({ error: judged.reason }, 'payload validation failed');
        throw validationFailure(judged.reason);
      }
      if (judged.kind === 'accepted') {
        accepted.put(runKey(eventId), {
          payload: judged.payload,
          userId: event.user_id,
          bytes: event.payload_chars,
        });
        if (!judged.violations) return;
        const [recorded] = await recordViolations(sql, eventId, JSON.stringify(judged.violations));
        if (recorded) outcomes.violated(recorded.event_name, 'reported');
        return;
      }
      const [moved] = await markFailedOnPlan(
        sql,
        eventId,
        `validation_error: ${judged.reason}`,
        JSON.stringify(judged.violations),
      );
      if (moved) {
        outcomes.failed(moved.event_type, 'validation_error');
        outcomes.violated(moved.event_name, 'failed');
      }
      eventLog(eventId).warn({ plan_version: event.plan_version }, 'tracking plan violated');
      throw validationFailure(judged.summary);
    },

    /**
     * Stores the normalized payload with its metadata in `properties`. The payload passed
     * validatePayload earlier in this run: handed over when that ran on this worker, else read
     * again (history carries ids only), never checked again.
     */
    async normalizePayload(eventId: string): Promise<void> {
      const event = accepted.take(runKey(eventId)) ?? (await readAccepted(sql, eventId));
      const properties = buildProperties(event.payload, {
        userId: event.userId,
        normalizedAt: new Date(),
      });
      // As exact JSON text: integers past 2^53 keep their digits (see exact-json.ts).
      await sql(
        `update events set properties = $2::jsonb, updated_at = now()
          where id = $1 and status <> 'processed'`,
        [eventId, stringifyExactly(properties)],
      );
    },

    /**
     * Marks the event processed in one statement, guarded so that a second run changes nothing:
     * processed_at is written once, and the first value is what every run returns.
     */
    async persistEvent(eventId: string): Promise<{ processedAt: string }> {
      const [moved] = await markProcessed(sql, { eventId });
      if (moved) {
        outcomes.processed(moved.event_type);
        eventLog(eventId).info('event processed');
        return { processedAt: toIso(moved.processed_at)! };
      }
      const [row] = await sql<{ status: string; processed_at: Timestamp | null }>(
        'select status, processed_at from events where id = $1',
        [eventId],
      );
      if (row?.status === 'processed' && row.processed_at) {
        return { processedAt: toIso(row.processed_at)! };
      }
      // Properties are missing only if normalizePayload's write was lost, and the status moves
      // on only if the event was reprocessed meanwhile; retrying the workflow's chain from the
      // top is the way out, not retrying this step.
      throw ApplicationFailure.create({
        message: `event ${eventId} is not ready to persist (status ${row?.status ?? 'unknown'})`,
        nonRetryable: true,
      });
    },

    /** Records why processing gave up; a processed event is never marked failed. */
    async markEventFailed(eventId: string, failure: EventFailure): Promise<void> {
      const moved = await markFailed(sql, { eventId }, `${failure.kind}: ${failure.message}`);
      for (const { event_type, n } of moved) outcomes.failed(event_type, failure.kind, n);
      eventLog(eventId).warn({ kind: failure.kind, error: failure.message }, 'event failed');
    },
  };
}

/** The hand-off key of an event in the current run (its id alone outside a workflow). */
function runKey(eventId: string): string {
  return `${runId() ?? ''}:${eventId}`;
}

/** The current workflow run; attempts are counted per run. */
function runId(): string | null {
  return Context.current().info.workflowExecution?.runId ?? null;
}

interface FetchedRow {
  user_id: string;
  event_name: string;
  event_type: string;
  status: string;
  processed_at: Timestamp | null;
}

/** The ORM's pool hands timestamps over as text; entity mapping is what parses them. */
type Timestamp = string | Date;

function toIso(value: Timestamp | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

function validationFailure(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: PAYLOAD_VALIDATION_ERROR, message, nonRetryable: true });
}

function eventNotFound(eventId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: EVENT_NOT_FOUND_ERROR,
    message: `event ${eventId} does not exist`,
    nonRetryable: true,
  });
}

async function readAccepted(sql: Sql, eventId: string) {
  const event = await readEvent(sql, eventId);
  return { payload: acceptedPayload(event.payload), userId: event.user_id };
}

async function readEvent(sql: Sql, eventId: string): Promise<EventToJudge> {
  const [event] = await readEventsToJudge(sql, 'id = $1', [eventId]);
  if (!event) throw eventNotFound(eventId);
  return event;
}
