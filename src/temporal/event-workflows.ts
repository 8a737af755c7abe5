import {
  isGrpcDeadlineError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { Priority } from '@temporalio/common';
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
import { batchWorkflowId, eventWorkflowId } from './workflow-ids';

/** How long a run may take in all, and so when Temporal closes it as timed out. */
export interface RunLimits {
  /** Longest a workflow may wait for a worker before its first step, in seconds. */
  maxQueueWaitSec: number;
}

/**
 * The execution timeout of every workflow the service starts: the longest wait for a worker,
 * then the processing budget (which counts from the first step, so the wait is not the event's
 * fault), then one attempt of recording the failure once the budget is spent. It spans every
 * run of a chain, so a large batch that continues as new shares it, as it shares the budget. A
 * run that outlives it is closed by Temporal; the sweeper (`run-sweeper.ts`) then gives its
 * events a new run.
 */
export function workflowExecutionTimeoutMs(policy: ProcessingPolicy, limits: RunLimits): number {
  return (limits.maxQueueWaitSec + policy.processingTimeoutSec + policy.activityTimeoutSec) * 1000;
}

/** What Temporal says of a workflow's latest run. */
export type RunState =
  | { running: true; runId: string }
  /** `status` is Temporal's (`TERMINATED`, `TIMED_OUT`...), or `NOT_FOUND` when it never started. */
  | { running: false; status: string };

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
  /** The workflow's latest run, from one describe call. Throws when Temporal cannot say. */
  describeRun(workflowId: string): Promise<RunState>;
  /**
   * Whether the workflow's latest run is still running after waiting up to `waitMs` for it to
   * close: false when it closed (completed, failed, terminated, timed out...) or was never
   * started. At most two calls to Temporal, whatever the run does: one describe and, for a
   * running run with `waitMs` > 0, one long poll for its close event. Throws when Temporal
   * cannot say.
   */
  isRunning(workflowId: string, waitMs?: number): Promise<boolean>;
  /** Workflows running on the task queue, by Temporal's visibility count (one call). */
  countRunning(): Promise<number>;
}

/** Starts event workflows with the configured policy on the configured task queue. */
export function createEventWorkflowStarter(
  client: Client,
  config: {
    temporal: { taskQueue: string; startTimeoutMs: number };
    processing: ProcessingPolicy;
    batch: BatchPolicy;
    runs: RunLimits;
  },
): EventWorkflowStarter {
  const { temporal, processing: policy, batch: batchPolicy } = config;
  const { taskQueue } = temporal;
  const workflowExecutionTimeout = workflowExecutionTimeoutMs(policy, config.runs);
  const withDeadline = <T>(ms: number, call: () => Promise<T>): Promise<T> =>
    client.withDeadline(Date.now() + ms, call);
  const runningQuery = `TaskQueue=${JSON.stringify(taskQueue)} AND ExecutionStatus="Running"`;
  const describeRun = async (workflowId: string): Promise<RunState> => {
    try {
      const { status, runId } = await withDeadline(temporal.startTimeoutMs, () =>
        client.workflow.getHandle(workflowId).describe(),
      );
      return status.name === 'RUNNING'
        ? { running: true, runId }
        : { running: false, status: status.name };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { running: false, status: 'NOT_FOUND' };
      throw err;
    }
  };
  /** One long poll for the run's close event; false when it did not close within `waitMs`. */
  const closesWithin = async (workflowId: string, runId: string, waitMs: number) => {
    try {
      const { history } = await withDeadline(waitMs, () =>
        client.workflowService.getWorkflowExecutionHistory({
          namespace: client.options.namespace,
          execution: { workflowId, runId },
          waitNewEvent: true,
          historyEventFilterType: CLOSE_EVENT,
          skipArchival: true,
        }),
      );
      // The server ends a long poll after a while with no event: still running.
      const closed = history?.events?.[0];
      if (!closed) return false;
      // A run that continued as new closed, but its chain goes on.
      const next =
        closed.workflowExecutionCompletedEventAttributes?.newExecutionRunId ??
        closed.workflowExecutionFailedEventAttributes?.newExecutionRunId ??
        closed.workflowExecutionTimedOutEventAttributes?.newExecutionRunId ??
        closed.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      return !next;
    } catch (err) {
      if (isGrpcDeadlineError(err)) return false;
      throw err;
    }
  };
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
          workflowExecutionTimeout,
          priority: fairAmongUsers(event.userId),
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
          workflowExecutionTimeout,
          priority: fairAmongUsers(batch.userId),
          args: [batch.id, { policy, batch: batchPolicy, revision: 2 }],
          staticSummary: `batch ${batch.id} from user ${batch.userId}`,
          typedSearchAttributes: [
            { key: BatchIdKey, value: batch.id },
            { key: UserIdKey, value: batch.userId },
            { key: EventStatusKey, value: 'received' },
          ],
        }),
      ),
    describeRun,
    isRunning: async (workflowId, waitMs = 0) => {
      const run = await describeRun(workflowId);
      if (!run.running) return false;
      return waitMs > 0 ? !(await closesWithin(workflowId, run.runId, waitMs)) : true;
    },
    countRunning: async () =>
      (await withDeadline(temporal.startTimeoutMs, () => client.workflow.count(runningQuery)))
        .count,
  };
}

/**
 * `temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT`; the proto
 * package is not a direct dependency.
 */
const CLOSE_EVENT = 2;

/**
 * Each run's user is its fairness key: a Temporal with task queue fairness on (the dev servers
 * here; `matching.enableFairness` elsewhere, see docs/deployment.md) hands workers the tasks of
 * different users in turn, so one user's flood of started workflows cannot hold back another
 * user's. A Temporal without it dispatches in order, as before. Activities inherit the key.
 */
function fairAmongUsers(userId: string): Priority {
  return { fairnessKey: userId };
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
