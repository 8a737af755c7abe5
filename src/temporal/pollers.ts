import type { Connection } from '@temporalio/client';

/** `temporal.api.enums.v1.TaskQueueType` values; the proto package is not a direct dependency. */
const TASK_QUEUE_TYPES = { workflow: 1, activity: 2 } as const;
export type TaskQueueKind = keyof typeof TASK_QUEUE_TYPES;

type Poller = NonNullable<
  Awaited<ReturnType<Connection['workflowService']['describeTaskQueue']>>['pollers']
>[number];

/**
 * The pollers the server last saw on `taskQueue`, per kind of task. The SDK names a worker's
 * pollers `<pid>@<hostname>`, which is how a caller tells one worker from another.
 */
export async function pollersOf(
  workflowService: Connection['workflowService'],
  namespace: string,
  taskQueue: string,
  kinds: readonly TaskQueueKind[] = ['workflow', 'activity'],
): Promise<{ kind: TaskQueueKind; pollers: Poller[] }[]> {
  return Promise.all(
    kinds.map(async (kind) => {
      const { pollers } = await workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: TASK_QUEUE_TYPES[kind],
      });
      return { kind, pollers: pollers ?? [] };
    }),
  );
}
