import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { processEventBatchWorkflow, processEventWorkflow } from '../../workflows';
import {
  BatchIdKey,
  EventIdKey,
  EventNameKey,
  EventStatusKey,
  EventTypeKey,
  UserIdKey,
} from '../../workflows/search-attributes';
import type { BatchPolicy, ProcessingPolicy } from '../../workflows/types';

/** The workflow id of an event's processing: one per event, so a second start is refused. */
export const eventWorkflowId = (eventId: string): string => `event-${eventId}`;

/** The workflow id of a batch's processing. */
export const batchWorkflowId = (batchId: string): string => `batch-${batchId}`;

export interface EventWorkflowStarter {
  /** Starts processing of a committed event; true when it started, false when already running. */
  startEvent(event: {
    id: string;
    userId: string;
    eventName: string;
    eventType: string;
  }): Promise<boolean>;
  /** Starts processing of a committed batch; same contract as `startEvent`. */
  startBatch(batch: { id: string; userId: string }): Promise<boolean>;
  /**
   * Whether the workflow's latest run is still running after waiting up to `waitMs` for it to
   * close: false when it closed (completed, failed, terminated, timed out...) or was never
   * started. Throws when Temporal cannot say.
   */
  isRunning(workflowId: string, waitMs?: number): Promise<boolean>;
}

/** Starts event workflows with the configured policy on the configured task queue. */
export function createEventWorkflowStarter(
  client: Client,
  config: {
    temporal: { taskQueue: string; startTimeoutMs: number };
    processing: ProcessingPolicy;
    batch: BatchPolicy;
  },
): EventWorkflowStarter {
  const { temporal, processing: policy, batch: batchPolicy } = config;
  const { taskQueue } = temporal;
  const startOnce = async (start: () => Promise<unknown>): Promise<boolean> => {
    try {
      await client.withDeadline(Date.now() + temporal.startTimeoutMs, start);
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  };
  return {
    startEvent: (event) =>
      startOnce(() =>
        client.workflow.start(processEventWorkflow, {
          workflowId: eventWorkflowId(event.id),
          taskQueue,
          args: [event.id, policy],
          staticSummary: summary(
            `${event.eventName} (${event.eventType}) from user ${event.userId}`,
          ),
          typedSearchAttributes: [
            { key: EventIdKey, value: event.id },
            { key: EventNameKey, value: event.eventName },
            { key: EventTypeKey, value: event.eventType },
            { key: UserIdKey, value: event.userId },
            { key: EventStatusKey, value: 'received' },
          ],
        }),
      ),
    startBatch: (batch) =>
      startOnce(() =>
        client.workflow.start(processEventBatchWorkflow, {
          workflowId: batchWorkflowId(batch.id),
          taskQueue,
          args: [batch.id, { policy, batch: batchPolicy, revision: 2 }],
          staticSummary: `batch ${batch.id} from user ${batch.userId}`,
          typedSearchAttributes: [
            { key: BatchIdKey, value: batch.id },
            { key: UserIdKey, value: batch.userId },
            { key: EventStatusKey, value: 'received' },
          ],
        }),
      ),
    isRunning: async (workflowId, waitMs = 0) => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        try {
          const description = await client.withDeadline(Date.now() + temporal.startTimeoutMs, () =>
            client.workflow.getHandle(workflowId).describe(),
          );
          if (description.status.name !== 'RUNNING') return false;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        }
        if (Date.now() >= deadline) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Temporal documents 200 bytes for a summary; event names and types may be 255 characters each. */
const SUMMARY_MAX_BYTES = 200;

/** The summary cut to what the server accepts, on a character boundary. */
export function summary(text: string): string {
  if (Buffer.byteLength(text) <= SUMMARY_MAX_BYTES) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch + '…') > SUMMARY_MAX_BYTES) break;
    out += ch;
  }
  return out + '…';
}
