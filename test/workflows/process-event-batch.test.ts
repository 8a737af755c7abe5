import { type createActivities } from '../../activities';
import { cutIntoChunks } from '../../activities/batch-chunks';
import { Harness } from '../support/harness';

type Activities = ReturnType<typeof createActivities>;

const MB = 1024 * 1024;

function postBatch(h: Harness, token: string, events: unknown[]) {
  return h.request('POST', '/api/v1/events/batch', { token, body: { events } });
}

async function batchRows(h: Harness, batchId: string) {
  return h.orm.em
    .fork()
    .getConnection()
    .execute<{ id: string; status: string; processed_at: string | null }[]>(
      'select id, status, processed_at from events where batch_id = ? order by id',
      [batchId],
    );
}

/** The workflow's whole history (all runs), as JSON text, with its event count. */
async function historyOf(h: Harness, workflowId: string) {
  const history = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
  const json = JSON.stringify(history);
  return { events: history.events?.length ?? 0, bytes: Buffer.byteLength(json), json };
}

/** How a finished run executed its steps and what else it wrote to history. */
async function stepKinds(h: Harness, workflowId: string) {
  const events = (await h.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return {
    historyEvents: events.length,
    activityTasks: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
    localActivities: events.filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    ).length,
    timers: events.filter((e) => e.timerStartedEventAttributes).length,
    searchAttributeUpserts: events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes)
      .length,
  };
}

describe('processEventBatchWorkflow, a batch that fits in one chunk', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await Harness.start();
    token = (await h.createUser()).token;
  });
  afterAll(() => h.close());

  it('costs what a single event costs: local steps, no timer, one status write', async () => {
    const events = Array.from({ length: 15 }, (_, i) => ({
      event_name: 'click',
      event_type: 'interaction',
      payload:
        i === 7 ? { k: { k: { k: { k: { k: { k: { k: { k: { k: { k: {} } } } } } } } } } } : { i },
    }));
    const res = await postBatch(h, token, events);
    expect(res.status).toBe(202);
    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({ total_events: 15, processed: 14, failed: 1 });
    expect(await stepKinds(h, res.body.workflow_id)).toEqual({
      // Started, its one workflow task (scheduled, started, completed), the four steps, the
      // status at the end, completed: as a single event's run.
      historyEvents: 10,
      activityTasks: 0,
      localActivities: 4,
      timers: 0,
      searchAttributeUpserts: 1,
    });
    const single = await h.request('POST', '/api/v1/events', {
      token,
      body: { event_name: 'click', event_type: 'interaction', payload: {} },
    });
    await h.workflowResult(single.body.workflow_id);
    const singleRun = await stepKinds(h, single.body.workflow_id);
    expect(singleRun.historyEvents).toBe(10);
  });

  it('keeps every step an activity task with EVENT_LOCAL_ACTIVITIES=false', async () => {
    const remote = await Harness.start({ env: { EVENT_LOCAL_ACTIVITIES: 'false' } });
    try {
      const user = await remote.createUser();
      const res = await postBatch(remote, user.token, [
        { event_name: 'click', event_type: 'interaction', payload: {} },
      ]);
      await remote.workflowResult(res.body.workflow_id);
      expect(await stepKinds(remote, res.body.workflow_id)).toMatchObject({
        activityTasks: 4,
        localActivities: 0,
        timers: 0,
      });
    } finally {
      await remote.close();
    }
  });
});

describe('processEventBatchWorkflow at Temporal limits', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await Harness.start();
    token = (await h.createUser()).token;
  });
  afterAll(() => h.close());

  it('processes 1,000 events whose payloads fill the 16 MB body, keeping payloads out of history', async () => {
    const limit = h.config.api.batchMaxBodyBytes;
    const envelope = JSON.stringify({ events: [] }).length;
    const perEvent = Math.floor((limit - envelope) / 1000);
    const shell = JSON.stringify({
      event_name: 'bulk',
      event_type: 'load',
      payload: { marker: 'PAYLOAD-MARKER', blob: '' },
    }).length;
    const events = Array.from({ length: 1000 }, () => ({
      event_name: 'bulk',
      event_type: 'load',
      payload: { marker: 'PAYLOAD-MARKER', blob: 'y'.repeat(perEvent - shell - 1) },
    }));
    const bodyBytes = Buffer.byteLength(JSON.stringify({ events }));
    expect(bodyBytes).toBeLessThanOrEqual(limit);
    expect(bodyBytes).toBeGreaterThan(limit - 2000);

    const res = await postBatch(h, token, events);
    expect(res.status).toBe(202);
    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({ total_events: 1000, processed: 1000, failed: 0 });
    const rows = await batchRows(h, res.body.batch_id);
    expect(rows.filter((r) => r.status === 'processed')).toHaveLength(1000);

    const history = await historyOf(h, res.body.workflow_id);
    expect(history.json).not.toContain('PAYLOAD-MARKER');
    // The summary (1,000 results) is the largest thing in history: far under 2 MB.
    expect(history.bytes).toBeLessThan(512 * 1024);
    expect(history.events).toBeLessThan(200);
  }, 180_000);

  it('processes a batch of payloads just under 1 MB each', async () => {
    const shell = JSON.stringify({ blob: '' }).length;
    const events = Array.from({ length: 12 }, () => ({
      event_name: 'upload',
      event_type: 'bulk',
      payload: { blob: 'z'.repeat(MB - shell - 16) },
    }));
    const res = await postBatch(h, token, events);
    expect(res.status).toBe(202);
    const summary = await h.workflowResult(res.body.workflow_id);
    expect(summary).toMatchObject({ total_events: 12, processed: 12, failed: 0 });
    const history = await historyOf(h, res.body.workflow_id);
    expect(history.bytes).toBeLessThan(64 * 1024);
  }, 120_000);
});

describe('processEventBatchWorkflow result for large batches', () => {
  it('counts every outcome but names at most 1,000 failures, one read step per chunk', async () => {
    const h = await Harness.start({
      env: { BATCH_MAX_EVENTS: '1500', BATCH_CHUNK_MAX_EVENTS: '500' },
    });
    try {
      const { token } = await h.createUser();
      let deep: unknown = {};
      for (let level = 0; level < 11; level++) deep = { k: deep };
      // 1,200 invalid events (too deep) and 300 valid ones.
      const events = Array.from({ length: 1500 }, (_, i) => ({
        event_name: 'click',
        event_type: 'interaction',
        payload: i % 5 === 0 ? { i } : deep,
      }));
      const res = await postBatch(h, token, events);
      expect(res.status).toBe(202);
      const summary = await h.workflowResult(res.body.workflow_id);
      expect(summary).toMatchObject({
        total_events: 1500,
        processed: 300,
        failed: 1200,
        failures_not_listed: 200,
      });
      expect(summary.results).toHaveLength(1000);
      expect(summary.results[0]).toEqual({
        event_id: expect.any(String),
        status: 'failed',
        error: 'validation_error: Payload exceeds max nesting depth (10)',
      });
      // Every outcome is still in the API's view of the batch.
      const view = await h.request('GET', `/api/v1/batches/${res.body.batch_id}`, { token });
      expect(view.body).toMatchObject({
        status: 'completed',
        counts: { processed: 300, failed: 1200 },
      });
      expect(view.body.event_ids).toHaveLength(1500);

      // Each chunk is read by one step: fetch (a local activity: the batch's size is not known
      // before it), then activity tasks: one pass per chunk, persist, summarize.
      const history = await historyOf(h, res.body.workflow_id);
      expect(await stepKinds(h, res.body.workflow_id)).toMatchObject({ localActivities: 1 });
      const steps = [...history.json.matchAll(/"activityType":\{"name":"(\w+)"\}/g)].map(
        (m) => m[1],
      );
      expect(steps).toEqual([
        'normalizeBatchChunk',
        'normalizeBatchChunk',
        'normalizeBatchChunk',
        'persistBatch',
        'summarizeBatch',
      ]);
    } finally {
      await h.close();
    }
  }, 120_000);
});

describe('processEventBatchWorkflow under faults', () => {
  it('retries a transient database error mid-batch without applying anything twice', async () => {
    const calls: Record<string, number> = {};
    const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
    const wrap = (real: Activities): Activities => ({
      ...real,
      normalizeBatchChunk: async (...args) => {
        // The second chunk's first attempt loses its connection.
        if (count('normalizeBatchChunk') === 2)
          throw new Error('Connection terminated unexpectedly');
        return real.normalizeBatchChunk(...args);
      },
      persistBatch: async (batchId) => {
        const n = await real.persistBatch(batchId);
        // The commit happened but its acknowledgement is lost: Temporal retries the step.
        if (count('persistBatch') === 1) throw new Error('Connection terminated unexpectedly');
        return n;
      },
    });
    const h = await Harness.start({
      wrapActivities: wrap,
      env: { BATCH_CHUNK_MAX_EVENTS: '10' },
    });
    try {
      const { token } = await h.createUser();
      const events = Array.from({ length: 30 }, (_, i) => ({
        event_name: 'click',
        event_type: 'interaction',
        payload: { i },
      }));
      const res = await postBatch(h, token, events);
      expect(res.status).toBe(202);
      const firstCommit = Date.now();
      const summary = await h.workflowResult(res.body.workflow_id);
      expect(summary).toMatchObject({ total_events: 30, processed: 30, failed: 0 });
      expect(calls.normalizeBatchChunk).toBe(4);
      expect(calls.persistBatch).toBe(2);

      const rows = await batchRows(h, res.body.batch_id);
      expect(rows).toHaveLength(30);
      // One statement wrote every processed_at, once: the retry found nothing left to mark.
      expect(new Set(rows.map((r) => r.processed_at)).size).toBe(1);
      expect(Date.parse(rows[0]!.processed_at!)).toBeLessThanOrEqual(firstCommit + 30_000);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('continues as new when history passes its limit, and finishes the batch', async () => {
    const h = await Harness.start({
      env: { BATCH_CHUNK_MAX_EVENTS: '2', BATCH_HISTORY_EVENT_LIMIT: '100' },
    });
    try {
      const { token } = await h.createUser();
      const events = Array.from({ length: 40 }, (_, i) => ({
        event_name: 'click',
        event_type: 'interaction',
        payload: { i },
      }));
      let deep: unknown = {};
      for (let level = 0; level < 11; level++) deep = { k: deep };
      events[7]!.payload = deep as { i: number };
      const res = await postBatch(h, token, events);
      const summary = await h.workflowResult(res.body.workflow_id);
      const handle = h.temporal.workflow.getHandle(res.body.workflow_id);
      expect(summary).toMatchObject({ total_events: 40, processed: 39, failed: 1 });
      // The last run was continued from an earlier one, which handed over within its limit.
      const lastRun = await handle.fetchHistory();
      const started = lastRun.events?.[0]?.workflowExecutionStartedEventAttributes;
      const earlierRunId = started?.continuedExecutionRunId;
      expect(earlierRunId).toBeTruthy();
      const earlierRun = await h.temporal.workflow
        .getHandle(res.body.workflow_id, earlierRunId!)
        .fetchHistory();
      const earlierEvents = earlierRun.events ?? [];
      expect(earlierEvents.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
      expect(earlierEvents.length).toBeLessThan(120);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('cutIntoChunks', () => {
  const ids = (n: number, bytes: number) =>
    Array.from({ length: n }, (_, i) => ({ id: `id-${String(i).padStart(3, '0')}`, bytes }));

  it('closes a chunk before it passes the byte or event bound', () => {
    const chunks = cutIntoChunks(ids(10, 100), { chunkMaxBytes: 350, chunkMaxEvents: 100 });
    expect(chunks.map((c) => c.events)).toEqual([3, 3, 3, 1]);
    expect(chunks[0]).toEqual({ firstId: 'id-000', lastId: 'id-002', events: 3, bytes: 300 });
    expect(
      cutIntoChunks(ids(5, 1), { chunkMaxBytes: 1e9, chunkMaxEvents: 2 }).map((c) => c.events),
    ).toEqual([2, 2, 1]);
  });

  it('gives an event larger than the byte bound a chunk of its own', () => {
    const chunks = cutIntoChunks(
      [
        { id: 'a', bytes: 10 },
        { id: 'b', bytes: 5000 },
        { id: 'c', bytes: 10 },
      ],
      { chunkMaxBytes: 100, chunkMaxEvents: 100 },
    );
    expect(chunks.map((c) => [c.firstId, c.lastId])).toEqual([
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
    ]);
  });
});
