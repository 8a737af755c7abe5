import { insertEventRow, readEventRow } from '../support/rows';
import { Harness } from '../support/harness';
import { processEventWorkflow } from '../../workflows';

/** How the processing chain of a finished run was executed, read from its history. */
async function chainKinds(h: Harness, workflowId: string) {
  const history = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  return {
    activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    localActivityMarkers: events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    ).length,
  };
}

describe('processEventWorkflow, local or normal activities', () => {
  let h: Harness;
  let userId: string;
  beforeAll(async () => {
    h = await Harness.start();
    userId = (await h.createUser()).id;
  });
  afterAll(() => h.close());

  it.each([
    ['local activities', true, { activities: 0, localActivityMarkers: 4 }],
    ['normal activities', false, { activities: 4, localActivityMarkers: 0 }],
  ])('runs the chain as %s when the policy says so', async (_w, localActivities, expected) => {
    const id = await insertEventRow(h.orm, { userId, payload: { page: ' /home ' } });
    const workflowId = `event-${id}`;
    const result = await h.temporal.workflow.execute(processEventWorkflow, {
      workflowId,
      taskQueue: h.config.temporal.taskQueue,
      args: [id, { ...h.config.processing, localActivities }],
    });
    const row = await readEventRow(h.orm, id);
    expect(result).toEqual({
      status: 'success',
      event_id: id,
      processed_at: row.processedAt!.toISOString(),
    });
    expect(row.properties).toMatchObject({ normalized: { page: '/home' } });
    expect(await chainKinds(h, workflowId)).toEqual(expected);
  });

  it('keeps normal activities for runs started without the option (older start arguments)', async () => {
    const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
    const { localActivities: _omitted, ...olderPolicy } = h.config.processing;
    const workflowId = `event-${id}`;
    await h.temporal.workflow.execute(processEventWorkflow, {
      workflowId,
      taskQueue: h.config.temporal.taskQueue,
      args: [id, olderPolicy],
    });
    expect(await chainKinds(h, workflowId)).toEqual({ activities: 4, localActivityMarkers: 0 });
  });
});
