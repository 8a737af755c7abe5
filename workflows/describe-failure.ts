import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import { PAYLOAD_VALIDATION_ERROR } from './failure-types';
import type { EventFailure, ProcessingPolicy } from './types';

/** Turns what an activity chain threw into the error recorded on the row. */
export function describeFailure(err: unknown, policy: ProcessingPolicy): EventFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === PAYLOAD_VALIDATION_ERROR) {
    return { kind: 'validation_error', message: cause.message };
  }
  if (isCancellation(err)) {
    return {
      kind: 'error',
      message: `processing did not finish within ${policy.processingTimeoutSec} s, or was cancelled`,
    };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { kind: 'error', message: `processing failed after retries: ${message}` };
}
