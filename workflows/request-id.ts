import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** Memo key holding the id of the HTTP request that started the workflow. */
export const REQUEST_ID_MEMO = 'request_id';

/**
 * Workflow interceptors (a `workflowModules` entry of the worker and the test bundle): every log
 * line of a workflow carries `request_id`, tying the worker's logs to the API's access log.
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      getLogAttributes(input, next) {
        const requestId = workflowInfo().memo?.[REQUEST_ID_MEMO];
        return next(typeof requestId === 'string' ? { ...input, request_id: requestId } : input);
      },
    },
  ],
});
