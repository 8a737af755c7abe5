import type { WorkflowClientInterceptor } from '@temporalio/client';
import { REQUEST_ID_MEMO } from '../../workflows/request-id';
import { currentRequestId } from '../request-context';

/**
 * Puts the id of the HTTP request that starts a workflow into the workflow's memo, where the
 * Web UI shows it and the workflow's log lines pick it up. Starts by the outbox relay happen
 * outside any request and carry none.
 */
export function requestIdClientInterceptor(): WorkflowClientInterceptor {
  return {
    start(input, next) {
      const requestId = currentRequestId();
      if (!requestId) return next(input);
      return next({
        ...input,
        options: {
          ...input.options,
          memo: { ...input.options.memo, [REQUEST_ID_MEMO]: requestId },
        },
      });
    },
  };
}
