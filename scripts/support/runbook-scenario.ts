import type { createActivities } from '../../activities';
import { EventSchema } from '../../src/events/event.entity';
import { newEventRow } from '../../src/events/event-rows';
import { createEventWorkflowStarter } from '../../src/temporal/event-workflows';
import { waitForCount, waitForStatus, waitForWorkflow, type Stack } from './stack';

/** The events the runbook commands are run against, one in each state an operator meets. */
export type RunbookScenario = Awaited<ReturnType<typeof prepareRunbookScenario>>;

export const OUTAGE_ERROR = 'simulated outage: the database refused the write';

/**
 * A simulated database outage, for the stack: while it lasts, `normalizePayload` fails as a lost
 * write would, and events exhaust their retries in well under a second.
 */
export function createOutage() {
  let active = false;
  return {
    start: () => void (active = true),
    end: () => void (active = false),
    env: {
      EVENT_MAX_RETRIES: '1',
      EVENT_RETRY_INITIAL_INTERVAL_MS: '50',
      EVENT_RETRY_MAX_INTERVAL_MS: '100',
    },
    wrapActivities: (activities: ReturnType<typeof createActivities>) => ({
      ...activities,
      async normalizePayload(eventId: string) {
        if (active) throw new Error(OUTAGE_ERROR);
        return activities.normalizePayload(eventId);
      },
    }),
  };
}

type Outage = ReturnType<typeof createOutage>;

/**
 * Drives real events through the real API and worker into every state the runbook talks about,
 * and waits until Temporal's visibility store shows them, so that list commands see them.
 */
export async function prepareRunbookScenario(stack: Stack, outage: Outage) {
  const user = await stack.createUser();
  const post = (event_name: string, event_type: string) =>
    stack.postEvent(user.token, { event_name, event_type, payload: {} });
  const { config } = stack;
  // A row another producer wrote, bypassing the API's schema (as an older API could), whose
  // workflow is started with `overrides` of the service's settings.
  async function insert(event_name: string, event_type: string, payload: unknown, overrides = {}) {
    const now = { receivedAt: new Date() };
    const { payloadJson: _, ...row } = newEventRow(user.id, { event_name, event_type }, now);
    await stack.orm.em.fork().insert(EventSchema, { ...row, payload });
    const starter = createEventWorkflowStarter(stack.temporal, { ...config, ...overrides });
    await starter.startEvent({ ...row, userId: user.id });
    return { eventId: row.id, workflowId: row.workflowId! };
  }
  // Steps as activity tasks, each with its own place in history: the reset to a step is for these.
  const activityTasks = { processing: { ...config.processing, localActivities: false } };
  const unpolled = {
    temporal: { ...config.temporal, taskQueue: `${config.temporal.taskQueue}-unpolled` },
  };

  const processed = await post('page_view', 'engagement');
  await waitForStatus(stack, processed, 'processed');
  const invalid = await insert('signup', 'account', 'not an object');
  await waitForStatus(stack, invalid, 'failed');

  outage.start();
  const outageEvents = await Promise.all([
    post('purchase', 'commerce'),
    insert('purchase', 'commerce', {}, activityTasks),
    post('checkout', 'commerce'),
    post('checkout', 'commerce'),
  ]);
  for (const event of outageEvents) await waitForStatus(stack, event, 'failed');
  outage.end();
  const stuck = await insert('page_view', 'engagement', {}, unpolled);

  for (const ref of outageEvents) await waitForWorkflow(stack, ref, 'FAILED');
  await waitForCount(stack, 'EventStatus="failed"', 5);
  await waitForCount(stack, 'ExecutionStatus="Failed"', 4);
  await waitForCount(stack, 'ExecutionStatus="Running"', 1);
  await waitForCount(stack, 'EventStatus="processed"', 1);

  const [o1, o2, o3, o4] = outageEvents;
  const history = await stack.temporal.workflow.getHandle(o2.workflowId).fetchHistory();
  const validate = history.events?.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'validatePayload',
  )?.activityTaskScheduledEventAttributes;
  if (!validate) throw new Error(`workflow ${o2.workflowId} never scheduled validatePayload`);
  return {
    token: user.token,
    processed, // page_view
    invalid, // signup whose payload is a string: validation failed, the workflow completed
    outage: [o1, o2] as const, // purchase events whose retries ran out: their workflows failed
    outageBatch: [o3, o4] as const, // checkout events that failed alike, for the batch reset
    stuck, // page_view whose workflow waits on a task queue no worker polls: still running
    // The WorkflowTaskCompleted that scheduled validatePayload in the run of outage[1]:
    // resetting there keeps fetchEvent's result and reruns the rest.
    historyEventId: Number(validate.workflowTaskCompletedEventId),
  };
}
