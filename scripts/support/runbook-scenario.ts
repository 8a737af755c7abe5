import type { createActivities } from '../../activities';
import type { Config } from '../../src/config';
import { EventSchema } from '../../src/events/event.entity';
import { newEventRow } from '../../src/events/event-rows';
import { createEventWorkflowStarter, eventWorkflowId } from '../../src/temporal/event-workflows';
import { waitForCount, waitForStatus, waitForWorkflow, type EventRef, type Stack } from './stack';

/** The events the runbook commands are run against, one in each state an operator meets. */
export interface RunbookScenario {
  token: string;
  /** `page_view`, processed. */
  processed: EventRef;
  /** `signup` whose payload is a string: validation failed, the workflow completed. */
  invalid: EventRef;
  /** `purchase` events whose retries ran out during the outage: their workflows failed. */
  outage: [EventRef, EventRef];
  /** `checkout` events that failed the same way, for the batch reset. */
  outageBatch: [EventRef, EventRef];
  /** `page_view` whose workflow waits on a task queue no worker polls: still running. */
  stuck: EventRef;
  /**
   * History event id of the WorkflowTaskCompleted that scheduled `validatePayload` in the
   * workflow of `outage[1]`: resetting there keeps `fetchEvent`'s result and reruns the rest.
   */
  historyEventId: number;
}

/** Service settings that make the outage events exhaust their retries in well under a second. */
export const FAST_FAILURE_ENV = {
  EVENT_MAX_RETRIES: '1',
  EVENT_RETRY_INITIAL_INTERVAL_MS: '50',
  EVENT_RETRY_MAX_INTERVAL_MS: '100',
};

/** A simulated database outage: while it lasts, `normalizePayload` fails as a lost write would. */
export function createOutage() {
  let active = false;
  return {
    start: () => void (active = true),
    end: () => void (active = false),
    wrap: (activities: ReturnType<typeof createActivities>) => ({
      ...activities,
      async normalizePayload(eventId: string) {
        if (active) throw new Error('simulated outage: the database refused the write');
        return activities.normalizePayload(eventId);
      },
    }),
  };
}

/**
 * Drives real events through the real API and worker into every state the runbook talks about,
 * and waits until Temporal's visibility store shows them, so that list commands see them.
 */
export async function prepareRunbookScenario(
  stack: Stack,
  outage: ReturnType<typeof createOutage>,
): Promise<RunbookScenario> {
  const user = await stack.createUser();
  const post = (event_name: string, event_type: string) =>
    stack.postEvent(user.token, { event_name, event_type, payload: {} });
  const { config } = stack;
  // A row another producer wrote, bypassing the API's schema (as an older API could), whose
  // workflow is started with `overrides` of the service's settings.
  const insert = async (
    name: string,
    type: string,
    payload: unknown,
    overrides: Partial<Config> = {},
  ) => {
    const { payloadJson: _, ...row } = newEventRow(
      user.id,
      { event_name: name, event_type: type },
      { receivedAt: new Date() },
    );
    await stack.orm.em.fork().insert(EventSchema, { ...row, payload });
    await createEventWorkflowStarter(stack.temporal, { ...config, ...overrides }).startEvent({
      id: row.id,
      userId: user.id,
      eventName: name,
      eventType: type,
    });
    return { eventId: row.id, workflowId: eventWorkflowId(row.id) };
  };

  const processed = await post('page_view', 'engagement');
  await waitForStatus(stack, processed, 'processed');
  const invalid = await insert('signup', 'account', 'not an object');
  await waitForStatus(stack, invalid, 'failed');

  outage.start();
  const outageEvents = await Promise.all([
    post('purchase', 'commerce'),
    // Steps as activity tasks, each with its own place in history: the reset to a step is for such runs.
    insert(
      'purchase',
      'commerce',
      {},
      {
        processing: { ...config.processing, localActivities: false },
      },
    ),
    post('checkout', 'commerce'),
    post('checkout', 'commerce'),
  ]);
  for (const event of outageEvents) await waitForStatus(stack, event, 'failed');
  outage.end();

  const stuck = await insert(
    'page_view',
    'engagement',
    {},
    {
      temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-unpolled` },
    },
  );

  for (const ref of outageEvents) await waitForWorkflow(stack, ref, 'FAILED');
  await waitForCount(stack, 'EventStatus="failed"', 5);
  await waitForCount(stack, 'ExecutionStatus="Failed"', 4);
  await waitForCount(stack, 'ExecutionStatus="Running"', 1);
  await waitForCount(stack, 'EventStatus="processed"', 1);

  const [o1, o2, o3, o4] = outageEvents as [EventRef, EventRef, EventRef, EventRef];
  const history = await stack.temporal.workflow.getHandle(o2.workflowId).fetchHistory();
  const validate = history.events?.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'validatePayload',
  );
  if (!validate) throw new Error(`workflow ${o2.workflowId} never scheduled validatePayload`);
  return {
    token: user.token,
    processed,
    invalid,
    outage: [o1, o2],
    outageBatch: [o3, o4],
    stuck,
    historyEventId: Number(
      validate.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId,
    ),
  };
}
