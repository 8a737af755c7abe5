import { Connection } from '@temporalio/client';
import { sleep } from './clock';
import type { Readiness } from './service-process';

const POLL_MS = 250;
/** `temporal.api.enums.v1.TaskQueueType` values (the proto package is not a direct dependency). */
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** The API is ready when `GET /health` answers 200. */
export function apiReadiness(baseUrl: string): Readiness {
  return async (_pid, signal) => {
    while (!signal.aborted) {
      const ok = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) }).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) return;
      await sleep(POLL_MS);
    }
  };
}

/**
 * A worker is ready when Temporal lists it (by its default identity, `<pid>@<host>`) among the
 * pollers of both the workflow and the activity task queue.
 */
export function workerReadiness(opts: {
  address: string;
  namespace: string;
  taskQueue: string;
}): Readiness {
  const types = [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY];
  return async (pid, signal) => {
    while (!signal.aborted) {
      const connection = await Connection.connect({
        address: opts.address,
        connectTimeout: 2_000,
      }).catch(() => undefined);
      try {
        if (connection) {
          const polling = await Promise.all(
            types.map(async (taskQueueType) => {
              const { pollers } = await connection.workflowService.describeTaskQueue({
                namespace: opts.namespace,
                taskQueue: { name: opts.taskQueue },
                taskQueueType,
              });
              return pollers.some((p) => p.identity?.startsWith(`${pid}@`));
            }),
          ).catch(() => [false]);
          if (polling.every(Boolean)) return;
        }
      } finally {
        await connection?.close().catch(() => undefined);
      }
      await sleep(POLL_MS * 4);
    }
  };
}
