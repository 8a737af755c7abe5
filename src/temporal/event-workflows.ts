import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { processEventWorkflow } from '../../workflows';
import {
  EventIdKey,
  EventNameKey,
  EventStatusKey,
  EventTypeKey,
  UserIdKey,
} from '../../workflows/search-attributes';
import type { ProcessingPolicy } from '../../workflows/types';

/** The workflow id of an event's processing: one per event, so a second start is refused. */
export const eventWorkflowId = (eventId: string): string => `event-${eventId}`;

export interface EventWorkflowStarter {
  /** Starts processing of a committed event; true when it started, false when already running. */
  startEvent(event: {
    id: string;
    userId: string;
    eventName: string;
    eventType: string;
  }): Promise<boolean>;
}

/** Starts event workflows with the configured policy on the configured task queue. */
export function createEventWorkflowStarter(
  client: Client,
  taskQueue: string,
  policy: ProcessingPolicy,
): EventWorkflowStarter {
  return {
    async startEvent(event) {
      try {
        await client.workflow.start(processEventWorkflow, {
          workflowId: eventWorkflowId(event.id),
          taskQueue,
          args: [event.id, policy],
          staticSummary: `${event.eventName} (${event.eventType}) from user ${event.userId}`,
          typedSearchAttributes: [
            { key: EventIdKey, value: event.id },
            { key: EventNameKey, value: event.eventName },
            { key: EventTypeKey, value: event.eventType },
            { key: UserIdKey, value: event.userId },
            { key: EventStatusKey, value: 'received' },
          ],
        });
        return true;
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
        throw err;
      }
    },
  };
}
