import { ApplicationFailure } from '@temporalio/common';
import { summarizeDatabaseError } from '../src/db/safe-errors';
import type { Logger } from '../src/logger';

/** The failure type of a database error as Temporal records it; retried like any other. */
export const DATABASE_ERROR = 'DatabaseError';

/**
 * Wraps every activity so that a database error leaves it as a short, retryable failure
 * ("database error: 57P01 admin_shutdown") instead of the driver's message, which carries the
 * statement with its inlined parameters. That message would otherwise be stored in Temporal
 * history, then in the event's `processing_error` and `last_error`, which the API returns.
 * The original is not attached as a cause, since Temporal would serialize it too; its codes
 * and names go to a debug log.
 */
export function withSafeDatabaseErrors<T extends Record<string, (...args: never[]) => unknown>>(
  activities: T,
  logger: Logger,
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        const summary = summarizeDatabaseError(err);
        if (!summary) throw err;
        logger.debug({ activity: name, ...summary.fields }, summary.reason);
        throw ApplicationFailure.create({
          type: DATABASE_ERROR,
          message: summary.reason,
          nonRetryable: false,
        });
      }
    };
  }
  return wrapped as T;
}
