import { TimeoutType } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  TimeoutFailure,
} from '@temporalio/workflow';
import { PAYLOAD_VALIDATION_ERROR } from './failure-types';
import type { EventFailure, ProcessingPolicy } from './types';

/** Turns what an activity chain threw into the error recorded on the row. */
export function describeFailure(err: unknown, policy: ProcessingPolicy): EventFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === PAYLOAD_VALIDATION_ERROR) {
    return { kind: 'validation_error', message: cause.message };
  }
  // A local step is limited to the budget left, so its timeout is the budget's when it says
  // schedule-to-close, or whenever the whole budget is shorter than one attempt may take (the
  // worker then reports the tighter bound as start-to-close).
  const overran =
    cause instanceof TimeoutFailure &&
    (cause.timeoutType === TimeoutType.SCHEDULE_TO_CLOSE ||
      (policy.localActivities === true &&
        policy.processingTimeoutSec <= policy.activityTimeoutSec));
  if (isCancellation(err) || overran) {
    return {
      kind: 'error',
      message: `processing did not finish within ${policy.processingTimeoutSec} s, or was cancelled`,
    };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { kind: 'error', message: `processing failed after retries: ${message}` };
}
