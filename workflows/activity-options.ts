import type { ActivityOptions } from '@temporalio/workflow';
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
