import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { createLogger } from '../../src/logger';
import { processEventWorkflow } from '../../workflows';
import { Harness } from '../support/harness';
import { insertEventRow, readEventRow } from '../support/rows';

type Activities = ReturnType<typeof createActivities>;
type Wrap = (a: Activities) => Activities;

/** Counts calls of every activity, and lets a test make chosen ones fail. */
function instrument(
  failures: Partial<Record<keyof Activities, (attempt: number) => Error | undefined>>,
) {
  const calls: Record<string, number> = {};
  const wrap: Wrap = (real) => {
    const out = { ...real } as Record<string, (...args: any[]) => Promise<any>>;
    for (const [name, fn] of Object.entries(real)) {
      out[name] = async (...args: any[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        const err = failures[name as keyof Activities]?.(calls[name]!);
        if (err) throw err;
        return (fn as (...a: any[]) => Promise<any>)(...args);
      };
    }
    return out as unknown as Activities;
  };
  return { calls, wrap };
}

/** Runs the workflow to its end on the harness's task queue, as the API would start it. */
function execute(h: Harness, eventId: string, workflowId = `event-${eventId}`) {
  return h.temporal.workflow.execute(processEventWorkflow, {
    workflowId,
    taskQueue: h.config.temporal.taskQueue,
    args: [eventId, h.config.processing],
  });
}

describe('processEventWorkflow with the real activities', () => {
  let h: Harness;
  let userId: string;
  const probe = instrument({});
  beforeAll(async () => {
    h = await Harness.start({ wrapActivities: probe.wrap });
    userId = (await h.createUser()).id;
  });
  afterAll(() => h.close());

  it('processes an event and returns the seed result shape', async () => {
    const id = await insertEventRow(h.orm, { userId, payload: { page: '/home', duration: 45 } });
    const result = await execute(h, id);
    const row = await readEventRow(h.orm, id);
    expect(result).toEqual({
      status: 'success',
      event_id: id,
      processed_at: row.processedAt!.toISOString(),
    });
    expect(row).toMatchObject({ status: 'processed', processed: true, processingError: null });
  });

  it.each([
    ['a string payload', { payload: 'string_payload' }, 'Payload must be an object, got string'],
    ['an array payload', { payload: [1, 2] }, 'Payload must be an object, got array'],
    ['a missing event_name', { eventName: '' }, 'Missing required fields: event_name'],
    ['a missing event_type', { eventType: ' ' }, 'Missing required fields: event_type'],
  ])(
    'ends %s as validation_error, recorded on the row, without retrying',
    async (_w, row, message) => {
      const id = await insertEventRow(h.orm, { userId, ...row });
      const before = probe.calls.validatePayload ?? 0;
      const result = await execute(h, id);
      expect(result).toEqual({ status: 'validation_error', event_id: id, error: message });
      expect(probe.calls.validatePayload! - before).toBe(1);
      const stored = await readEventRow(h.orm, id);
      expect(stored).toMatchObject({
        status: 'failed',
        processed: false,
        processedAt: null,
        processingError: `validation_error: ${message}`,
      });
    },
  );

  it('a second run of an already processed event changes nothing', async () => {
    const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
    const first = await execute(h, id);
    const row1 = await readEventRow(h.orm, id);
    const second = await execute(h, id, `event-${id}-again-${randomUUID()}`);
    const row2 = await readEventRow(h.orm, id);
    expect(second).toEqual(first);
    expect(row2.processedAt).toEqual(row1.processedAt);
    expect(row2.properties).toEqual(row1.properties);
    expect(row2.updatedAt).toEqual(row1.updatedAt);
  });

  it('fails a run for an unknown event id without retrying', async () => {
    const before = probe.calls.fetchEvent ?? 0;
    const err = await execute(h, '01a2f000-0000-7000-8000-00000000beef').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(probe.calls.fetchEvent! - before).toBe(1);
  });
});

describe('persistEvent', () => {
  it('is idempotent: running it twice writes processed_at once', async () => {
    const h = await Harness.start({ noWorker: true });
    try {
      const userId = (await h.createUser()).id;
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      const acts = createActivities({ orm: h.orm, logger: createLogger('silent') });
      const env = new MockActivityEnvironment();
      await env.run(acts.normalizePayload, id);
      const first: { processedAt: string } = await env.run(acts.persistEvent, id);
      const row1 = await readEventRow(h.orm, id);
      await new Promise((r) => setTimeout(r, 20));
      const second = await env.run(acts.persistEvent, id);
      const row2 = await readEventRow(h.orm, id);
      expect(second).toEqual(first);
      expect(row1.processedAt!.toISOString()).toBe(first.processedAt);
      expect(row2.processedAt).toEqual(row1.processedAt);
      expect(row2.updatedAt).toEqual(row1.updatedAt);
      expect(row2.status).toBe('processed');
    } finally {
      await h.close();
    }
  });
});

describe('infrastructure errors', () => {
  it('retries a transient failure with backoff, then succeeds', async () => {
    const probe = instrument({
      persistEvent: (n) => (n <= 2 ? new Error('Connection terminated unexpectedly') : undefined),
    });
    const h = await Harness.start({ wrapActivities: probe.wrap, env: { EVENT_MAX_RETRIES: '3' } });
    try {
      const userId = (await h.createUser()).id;
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      const result = await execute(h, id);
      expect(result.status).toBe('success');
      expect(probe.calls.persistEvent).toBe(3);
      expect((await readEventRow(h.orm, id)).status).toBe('processed');
    } finally {
      await h.close();
    }
  });

  it('marks the event failed once EVENT_MAX_RETRIES retries are used up', async () => {
    const probe = instrument({ normalizePayload: () => new Error('could not connect to server') });
    const h = await Harness.start({ wrapActivities: probe.wrap, env: { EVENT_MAX_RETRIES: '2' } });
    try {
      const userId = (await h.createUser()).id;
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      const err = await execute(h, id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('EventProcessingFailed');
      expect(probe.calls.normalizePayload).toBe(3);
      const row = await readEventRow(h.orm, id);
      expect(row.status).toBe('failed');
      expect(row.processingError).toBe(
        'error: processing failed after retries: could not connect to server',
      );
      expect(row.processedAt).toBeNull();
    } finally {
      await h.close();
    }
  });

  it('marks the event failed when processing overruns EVENT_PROCESSING_TIMEOUT', async () => {
    const probe = instrument({});
    const slow: Wrap = (real) => {
      const wrapped = probe.wrap(real);
      return {
        ...wrapped,
        validatePayload: async (id: string) => {
          await new Promise((r) => setTimeout(r, 2500));
          return wrapped.validatePayload(id);
        },
      };
    };
    const h = await Harness.start({
      wrapActivities: slow,
      env: { EVENT_PROCESSING_TIMEOUT: '1', EVENT_ACTIVITY_TIMEOUT: '5' },
    });
    try {
      const userId = (await h.createUser()).id;
      const id = await insertEventRow(h.orm, { userId, payload: { a: 1 } });
      await expect(execute(h, id)).rejects.toBeInstanceOf(WorkflowFailedError);
      const row = await readEventRow(h.orm, id);
      expect(row.status).toBe('failed');
      expect(row.processingError).toBe(
        'error: processing did not finish within 1 s, or was cancelled',
      );
    } finally {
      await h.close();
    }
  });
});
