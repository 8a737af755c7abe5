import type { createActivities } from '../../activities';
import { EventSchema } from '../../src/events/event.entity';
import { newEventRow } from '../../src/events/event-rows';
import { createEventWorkflowStarter, eventWorkflowId } from '../../src/temporal/event-workflows';
import type { AcceptedEvent, LiveStack } from './live-stack';
import { waitForCount, waitForStatus, waitForWorkflow } from './wait-for';

type Activities = ReturnType<typeof createActivities>;

/** One event of the scenario: its id and its workflow's id. */
export type EventRef = AcceptedEvent;

/** The events the runbook commands are run against, one in each state an operator meets. */
export interface RunbookScenario {
  userId: string;
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
    wrap: (activities: Activities): Activities => ({
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
  stack: LiveStack,
  outage: ReturnType<typeof createOutage>,
): Promise<RunbookScenario> {
  const user = await stack.createUser();
  const post = (eventName: string, eventType: string) =>
    stack.postEvent(user.token, { event_name: eventName, event_type: eventType, payload: {} });

  const processed = await post('page_view', 'engagement');
  await waitForStatus(stack, processed, 'processed');

  const invalid = await insertEvent(stack, user.id, 'signup', 'account', 'not an object');
  await createEventWorkflowStarter(stack.temporal, stack.config).startEvent({
    id: invalid.eventId,
    userId: user.id,
    eventName: 'signup',
    eventType: 'account',
  });
  await waitForStatus(stack, invalid, 'failed');

  outage.start();
  const outageEvents = await Promise.all([
    post('purchase', 'commerce'),
    startWithActivityTasks(stack, user.id, 'purchase', 'commerce'),
    post('checkout', 'commerce'),
    post('checkout', 'commerce'),
  ]);
  for (const event of outageEvents) await waitForStatus(stack, event, 'failed');
  outage.end();

  const stuck = await insertEvent(stack, user.id, 'page_view', 'engagement', {});
  await createEventWorkflowStarter(stack.temporal, {
    ...stack.config,
    temporal: {
      ...stack.config.temporal,
      taskQueue: `${stack.config.temporal.taskQueue}-unpolled`,
    },
  }).startEvent({
    id: stuck.eventId,
    userId: user.id,
    eventName: 'page_view',
    eventType: 'engagement',
  });

  for (const ref of outageEvents) await waitForWorkflow(stack, ref, 'FAILED');
  await waitForCount(stack, 'EventStatus="failed"', 5);
  await waitForCount(stack, 'ExecutionStatus="Failed"', 4);
  await waitForCount(stack, 'ExecutionStatus="Running"', 1);
  await waitForCount(stack, 'EventStatus="processed"', 1);

  const [o1, o2, o3, o4] = outageEvents as [EventRef, EventRef, EventRef, EventRef];
  return {
    userId: user.id,
    token: user.token,
    processed,
    invalid,
    outage: [o1, o2],
    outageBatch: [o3, o4],
    stuck,
    historyEventId: await findValidateStep(stack, o2),
  };
}

/**
 * An event whose steps run as activity tasks (EVENT_LOCAL_ACTIVITIES=false), each with its own
 * place in history: the runbook's reset to a step is for such runs.
 */
async function startWithActivityTasks(
  stack: LiveStack,
  userId: string,
  eventName: string,
  eventType: string,
): Promise<EventRef> {
  const event = await insertEvent(stack, userId, eventName, eventType, {});
  await createEventWorkflowStarter(stack.temporal, {
    ...stack.config,
    processing: { ...stack.config.processing, localActivities: false },
  }).startEvent({ id: event.eventId, userId, eventName, eventType });
  return event;
}

/** A row written by another producer, bypassing the API's schema (as an older API could). */
async function insertEvent(
  stack: LiveStack,
  userId: string,
  eventName: string,
  eventType: string,
  payload: unknown,
): Promise<EventRef> {
  const { payloadJson: _none, ...row } = newEventRow(
    userId,
    { event_name: eventName, event_type: eventType },
    { receivedAt: new Date() },
  );
  const id = row.id;
  await stack.orm.em.fork().insert(EventSchema, { ...row, payload });
  return { eventId: id, workflowId: eventWorkflowId(id) };
}

async function findValidateStep(stack: LiveStack, ref: EventRef): Promise<number> {
  const history = await stack.temporal.workflow.getHandle(ref.workflowId).fetchHistory();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'validatePayload') {
      return Number(scheduled.workflowTaskCompletedEventId);
    }
  }
  throw new Error(`workflow ${ref.workflowId} never scheduled validatePayload`);
}
