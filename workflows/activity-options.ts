import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from './failure-types';
import type { ProcessingPolicy } from './types';

/**
 * The one retry policy of the processing chain: exponential backoff from the configured first
 * interval, doubling, for EVENT_MAX_RETRIES retries after the first attempt. Validation errors
 * are listed as non-retryable as well as thrown that way, so neither side alone can make them
 * retry.
 */
export function processingActivityOptions(policy: ProcessingPolicy): ActivityOptions {
  return {
    startToCloseTimeout: policy.activityTimeoutSec * 1000,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: policy.maxIntervalMs,
      maximumAttempts: policy.maxRetries + 1,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  };
}

/**
 * A step of the chain as an activity task, limited to what is left of the processing budget
 * (queueing, attempts and backoff included), so the budget needs no timer of its own.
 */
export function processingStepOptions(
  policy: ProcessingPolicy,
  budgetLeftMs: number,
): ActivityOptions {
  return {
    ...processingActivityOptions(policy),
    scheduleToCloseTimeout: Math.max(1, budgetLeftMs),
  };
}

/**
 * The same policy for a step of the chain run as a local activity, given what is left of the
 * processing budget. Differences from normal activities:
 * - the worker retries a local activity itself, within the workflow task, while the next delay
 *   is under `localRetryThreshold`; longer delays become a durable timer and a new attempt in a
 *   later workflow task. History records each step's outcome, not every attempt;
 * - a worker crash mid-step repeats the step on another worker (steps are idempotent);
 * - the budget's timer is only seen between workflow tasks, and a chain of local activities runs
 *   in one task, so each step is also limited to the budget left (`scheduleToCloseTimeout`,
 *   attempts and backoff included).
 */
export function processingLocalActivityOptions(
  policy: ProcessingPolicy,
  budgetLeftMs: number,
): LocalActivityOptions {
  const { startToCloseTimeout, retry } = processingActivityOptions(policy);
  return {
    startToCloseTimeout,
    scheduleToCloseTimeout: Math.max(1, budgetLeftMs),
    retry,
    localRetryThreshold: 10_000,
  };
}

/**
 * Recording a failure must not itself give up: an event left in `processing` would break the
 * promise that every accepted event ends in a terminal state. So it retries without a limit (no maximumAttempts),
 * backing off to a minute, until the database takes the write.
 */
export function recordFailureActivityOptions(policy: ProcessingPolicy): ActivityOptions {
  return {
    startToCloseTimeout: policy.activityTimeoutSec * 1000,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: 2,
      maximumInterval: Math.max(policy.maxIntervalMs, 60_000),
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  };
}
