import {
  ApplicationFailure,
  CancellationScope,
  log,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProcessingActivities } from '../activities';
import {
  processingActivityOptions,
  processingLocalActivityOptions,
  processingStepOptions,
  recordFailureActivityOptions,
} from './activity-options';
import { describeFailure } from './describe-failure';
import { EVENT_PROCESSING_FAILED } from './failure-types';
import {
  EventIdKey,
  EventNameKey,
  EventStatusKey,
  EventTypeKey,
  UserIdKey,
} from './search-attributes';
import {
  DEFAULT_PROCESSING_POLICY,
  type EventFailure,
  type ProcessEventResult,
  type ProcessingPolicy,
} from './types';

/**
 * Processes one accepted event: fetch it with its user, validate the payload's shape, normalize
 * it with metadata, persist and mark it processed. Only the event id crosses workflow history;
 * activities read the payload from PostgreSQL, so a 1 MB payload never meets Temporal's limits.
 *
 * A validation error ends the run with a `validation_error` result. Anything else that outlives
 * its retries or the time budget marks the row failed and fails the run, so operators find it
 * among failed workflows and can reset or reprocess it.
 */
export async function processEventWorkflow(
  eventId: string,
  policy: ProcessingPolicy = DEFAULT_PROCESSING_POLICY,
): Promise<ProcessEventResult> {
  if (policy.revision === 2) return processEvent(eventId, policy);
  return processEventFirstRevision(eventId, policy);
}

/**
 * The chain as it runs now. The budget counts from the first step, when a worker first runs the
 * workflow: time spent waiting for a worker is not the event's fault. Every step is limited to
 * what is left of the budget, so no durable timer is needed; search attributes were set when the
 * run started and only `EventStatus` changes, once, at the end.
 */
async function processEvent(
  eventId: string,
  policy: ProcessingPolicy,
): Promise<ProcessEventResult> {
  const deadline = Date.now() + policy.processingTimeoutSec * 1000;
  const step = (): ProcessingActivities =>
    policy.localActivities
      ? proxyLocalActivities<ProcessingActivities>(
          processingLocalActivityOptions(policy, deadline - Date.now()),
        )
      : proxyActivities<ProcessingActivities>(processingStepOptions(policy, deadline - Date.now()));
  try {
    const event = await step().fetchEvent(eventId);
    let processedAt = event.processedAt;
    if (!processedAt) {
      await step().validatePayload(eventId);
      await step().normalizePayload(eventId);
      processedAt = (await step().persistEvent(eventId)).processedAt;
    }
    upsertSearchAttributes([{ key: EventStatusKey, value: 'processed' }]);
    return { status: 'success', event_id: eventId, processed_at: processedAt };
  } catch (err) {
    return failed(eventId, err, policy);
  }
}

/** The first revision: budget from the run's start, a timer for it, attributes upserted per step. */
async function processEventFirstRevision(
  eventId: string,
  policy: ProcessingPolicy,
): Promise<ProcessEventResult> {
  const remote = proxyActivities<ProcessingActivities>(processingActivityOptions(policy));
  const deadline = workflowInfo().runStartTime.getTime() + policy.processingTimeoutSec * 1000;
  const step = (): ProcessingActivities =>
    policy.localActivities
      ? proxyLocalActivities<ProcessingActivities>(
          processingLocalActivityOptions(policy, deadline - Date.now()),
        )
      : remote;
  upsertSearchAttributes([{ key: EventIdKey, value: eventId }]);

  try {
    const processedAt = await CancellationScope.withTimeout(
      policy.processingTimeoutSec * 1000,
      async () => {
        const event = await step().fetchEvent(eventId);
        upsertSearchAttributes([
          { key: EventNameKey, value: event.eventName },
          { key: EventTypeKey, value: event.eventType },
          { key: UserIdKey, value: event.userId },
          { key: EventStatusKey, value: event.processedAt ? 'processed' : 'processing' },
        ]);
        if (event.processedAt) return event.processedAt;
        await step().validatePayload(eventId);
        await step().normalizePayload(eventId);
        return (await step().persistEvent(eventId)).processedAt;
      },
    );
    upsertSearchAttributes([{ key: EventStatusKey, value: 'processed' }]);
    return { status: 'success', event_id: eventId, processed_at: processedAt };
  } catch (err) {
    return failed(eventId, err, policy);
  }
}

/**
 * Records the failure on the row; a validation error ends the run with its result, anything
 * else fails the run, so operators find it among failed workflows.
 */
async function failed(
  eventId: string,
  err: unknown,
  policy: ProcessingPolicy,
): Promise<ProcessEventResult> {
  const failure = describeFailure(err, policy);
  await recordFailure(eventId, failure, policy);
  if (failure.kind === 'validation_error') {
    return { status: 'validation_error', event_id: eventId, error: failure.message };
  }
  throw ApplicationFailure.create({
    type: EVENT_PROCESSING_FAILED,
    message: `event ${eventId} failed: ${failure.message}`,
    nonRetryable: true,
    cause: err instanceof Error ? err : undefined,
  });
}

/** Marks the row failed, even when the run itself is being cancelled. */
async function recordFailure(
  eventId: string,
  failure: EventFailure,
  policy: ProcessingPolicy,
): Promise<void> {
  const { markEventFailed } = proxyActivities<ProcessingActivities>(
    recordFailureActivityOptions(policy),
  );
  await CancellationScope.nonCancellable(() => markEventFailed(eventId, failure));
  upsertSearchAttributes([{ key: EventStatusKey, value: 'failed' }]);
  log.warn('event processing failed', { eventId, kind: failure.kind, error: failure.message });
}
