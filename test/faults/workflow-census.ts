import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';

const CONCURRENCY = 8;
/** Enough to tell a pattern; describing thousands would only slow the report. */
const MAX_DESCRIBED = 400;

/**
 * What Temporal knows of each workflow id: its status (`RUNNING`, `COMPLETED`, `FAILED`…), or
 * `NO WORKFLOW` when none was ever started, which is how an event stays `received` for good.
 * Ids past the first few hundred are reported as `NOT CHECKED`.
 */
export async function workflowStates(
  address: string,
  namespace: string,
  workflowIds: string[],
): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const client = new Client({ connection, namespace });
    const queue = [...new Set(workflowIds)];
    for (const id of queue.slice(MAX_DESCRIBED)) states.set(id, 'NOT CHECKED');
    const todo = queue.slice(0, MAX_DESCRIBED);
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
          try {
            const { status } = await client.workflow.getHandle(id).describe();
            states.set(id, status.name);
          } catch (err) {
            states.set(id, err instanceof WorkflowNotFoundError ? 'NO WORKFLOW' : 'UNKNOWN');
          }
        }
      }),
    );
  } finally {
    await connection.close();
  }
  return states;
}
