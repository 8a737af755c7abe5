import { WorkflowNotFoundError } from '@temporalio/client';
import type { createActivities } from '../../activities';
import { eventWorkflowId } from '../../src/temporal/workflow-ids';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import { countTemporalCalls } from '../support/temporal-calls';

type Activities = ReturnType<typeof createActivities>;

/**
 * The operator's way out of an event whose run was terminated: `POST .../reprocess` asks
 * Temporal whether the run is alive and, when it is not, starts a new one. The step named in
 * `held` waits until released and then fails, so a run can be caught in a given state.
 */
let held: 'fetchEvent' | 'normalizePayload' | null = null;
/** While set, a run that marked its event failed waits before it closes. */
let closing: Promise<void> | null = null;
const hold = (real: Activities): Activities => ({
  ...real,
  markEventFailed: async (id, failure) => {
    await real.markEventFailed(id, failure);
    await closing;
  },
  fetchEvent: async (id) => {
    if (held === 'fetchEvent') await released();
    return real.fetchEvent(id);
  },
  normalizePayload: async (id) => {
    if (held === 'normalizePayload') await released();
    return real.normalizePayload(id);
  },
});

async function released(): Promise<never> {
  while (held) await new Promise((r) => setTimeout(r, 50));
  // The run this attempt belonged to is gone; it must not write anything.
  throw new Error('held attempt abandoned');
}

let h: Harness;
let user: { id: string; token: string };

beforeAll(async () => {
  // The outbox relay runs, as in the API process; it scans the whole database, hence our own.
  const databaseUrl = await createTestDatabase(ownDatabaseName('stuck_events'));
  // Steps as activity tasks, so that describe shows which one a run is held in.
  h = await Harness.start({
    wrapActivities: hold,
    databaseUrl,
    outboxSweep: true,
    env: { EVENT_LOCAL_ACTIVITIES: 'false' },
  });
  user = await h.createUser();
});
afterAll(async () => {
  held = null;
  await h.close();
});

async function accept(): Promise<string> {
  const res = await h.request('POST', '/api/v1/events', {
    token: user.token,
    body: { event_name: 'stuck', event_type: 'test', payload: { a: 1 } },
  });
  expect(res.status).toBe(202);
  return res.body.event_id as string;
}

/** Waits until the run has the held step pending, so the event is caught where it stands. */
async function waitForPendingStep(eventId: string, step: string): Promise<void> {
  const handle = h.temporal.workflow.getHandle(eventWorkflowId(eventId));
  for (let i = 0; i < 200; i++) {
    // The workflow starts just after the answer: not found at first is expected.
    const d = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (d?.raw.pendingActivities?.some((a) => a.activityType?.name === step)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${step} never became pending`);
}

const reprocess = (id: string) =>
  h.request('POST', `/api/v1/events/${id}/reprocess`, { token: user.token });

describe('events whose run was terminated', () => {
  it.each([
    ['processing', 'normalizePayload'],
    ['queued', 'fetchEvent'],
  ] as const)('a %s event is brought to processed by reprocess', async (status, step) => {
    held = step;
    const id = await accept();
    await waitForPendingStep(id, step);
    expect(
      (await h.request('GET', `/api/v1/events/${id}`, { token: user.token })).body.status,
    ).toBe(status);

    // While the run is alive, reprocess starts nothing.
    const whileRunning = await reprocess(id);
    expect(whileRunning.status).toBe(200);
    expect(whileRunning.body.status).toBe(status);

    await h.temporal.workflow.getHandle(eventWorkflowId(id)).terminate('operator test');
    held = null;
    const stuck = await h.request('GET', `/api/v1/events/${id}`, { token: user.token });
    expect(stuck.body.status).toBe(status);

    const res = await reprocess(id);
    // Only reprocess moves a `queued` or `processing` event whose run is gone.
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ event_id: id, workflow_id: eventWorkflowId(id) });
    const done = await h.waitForEvent(user.token, id, ['processed']);
    expect(done.processed).toBe(true);
  });
});

describe('giving an event up for good', () => {
  it('marking it failed, then terminating, keeps the relay from starting it again', async () => {
    held = 'fetchEvent';
    const id = await accept();
    await waitForPendingStep(id, 'fetchEvent');
    // The runbook's two steps, in its order.
    await h.orm.em
      .fork()
      .getConnection()
      .execute(
        `update events set status = 'failed', processing_error = 'abandoned by an operator' where id = ?`,
        [id],
      );
    await h.temporal.workflow.getHandle(eventWorkflowId(id)).terminate('abandoned');
    held = null;
    // Longer than the relay's interval plus grace (200 + 500 ms in tests).
    await new Promise((r) => setTimeout(r, 2000));
    const after = await h.request('GET', `/api/v1/events/${id}`, { token: user.token });
    expect(after.body).toMatchObject({
      status: 'failed',
      processing_error: 'abandoned by an operator',
    });
    expect((await h.temporal.workflow.getHandle(eventWorkflowId(id)).describe()).status.name).toBe(
      'TERMINATED',
    );
  });
});

describe('reprocess asks Temporal a bounded number of times', () => {
  /** An event failed by validation whose run has not closed yet, until `release()`. */
  async function failedWhileClosing() {
    let release!: () => void;
    closing = new Promise<void>((r) => (release = r));
    const res = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: {
        event_name: 'stuck',
        event_type: 'test',
        payload: { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: { k: 1 } } } } } } } } } } },
      },
    });
    const id = res.body.event_id as string;
    await h.waitForEvent(user.token, id, ['failed']);
    const handle = h.temporal.workflow.getHandle(eventWorkflowId(id));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    return { id, handle, release };
  }

  // The outbox's own calls (its running count, the start it makes afterwards) are not the request's.
  const OUTBOX_CALLS = ['countWorkflowExecutions', 'startWorkflowExecution'];

  it('makes at most two calls for a failed event whose run stays open', async () => {
    const { id, release } = await failedWhileClosing();
    const calls = countTemporalCalls(h.temporal);
    try {
      const res = await reprocess(id);
      // One describe, one long poll for the close event; the run stayed open: nothing started.
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ event_id: id, status: 'failed' });
      expect(calls.excluding(...OUTBOX_CALLS)).toBeLessThanOrEqual(2);
      expect(calls.calls.describeWorkflowExecution).toBe(1);
    } finally {
      calls.restore();
      release();
      closing = null;
    }
  });

  it('starts a new run as soon as the closing run closes, with the same two calls', async () => {
    const { id, handle, release } = await failedWhileClosing();
    const calls = countTemporalCalls(h.temporal);
    try {
      const answer = reprocess(id);
      setTimeout(release, 500);
      const res = await answer;
      expect(res.status).toBe(202);
      expect(calls.excluding(...OUTBOX_CALLS)).toBeLessThanOrEqual(2);
      expect((await h.waitForEvent(user.token, id, ['failed'])).attempts).toBe(2);
      await handle.result().catch(() => undefined);
    } finally {
      calls.restore();
      closing = null;
    }
  });
});
