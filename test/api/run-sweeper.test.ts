import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { createActivities } from '../../activities';
import { createSql } from '../../src/db/sql';
import { MAX_RUNS_CHECKED_PER_PASS, startRunSweeper } from '../../src/events/run-sweeper';
import { createLogger } from '../../src/logger';
import { createEventWorkflowStarter } from '../../src/temporal/event-workflows';
import { eventWorkflowId } from '../../src/temporal/workflow-ids';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness, type HarnessOptions } from '../support/harness';
import { countTemporalCalls } from '../support/temporal-calls';

type Activities = ReturnType<typeof createActivities>;

/**
 * No state without a way out: the sweeper finds `queued` and `processing` events whose run is
 * gone (terminated, timed out, lost) and gives them a new run, or fails them with the reason.
 * It scans the whole database, so each test has a database of its own.
 */
let databaseUrl: string;
let taskQueue: string;
const harnesses: Harness[] = [];

beforeEach(async () => {
  databaseUrl = await createTestDatabase(ownDatabaseName(`sweeper_${randomUUID().slice(0, 8)}`));
  taskQueue = `test-${randomUUID()}`;
});
afterEach(async () => {
  held = false;
  for (const h of harnesses.splice(0).reverse()) await h.close();
});

/** A harness on the test's database and task queue; closed after the test. */
async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await Harness.start({
    databaseUrl,
    ...options,
    env: { TEMPORAL_TASK_QUEUE: taskQueue, ...options.env },
  });
  harnesses.push(h);
  return h;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function statusIs(h: Harness, ids: string[], status: string) {
  const rows = await createSql(h.orm)<{ id: string; status: string; attempts: number }>(
    `select id, status, attempts from events where id = any($1::uuid[]) order by id`,
    [ids],
  );
  return rows.length === ids.length && rows.every((r) => r.status === status) ? rows : undefined;
}

async function runStatus(h: Harness, workflowId: string) {
  return (
    await h.temporal.workflow
      .getHandle(workflowId)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      })
  )?.status.name;
}

/** Longer than the harness's RUN_SWEEP_STALE_MS (500 ms): rows untouched since are stale. */
const staleWait = () => new Promise((r) => setTimeout(r, 700));

let held = false;
/** From the second chunk on, normalizing waits while `held`, then fails: a batch caught mid-way. */
const holdSecondChunk = (real: Activities): Activities => {
  let chunks = 0;
  return {
    ...real,
    normalizeBatchChunk: async (...args) => {
      if (held && ++chunks > 1) {
        while (held) await new Promise((r) => setTimeout(r, 50));
        throw new Error('held attempt abandoned');
      }
      return real.normalizeBatchChunk(...args);
    },
  };
};

describe('the sweeper', () => {
  it('gives an event whose run was terminated while queued a new run in one sweep', async () => {
    const queued = await harness({ noWorker: true });
    const { token } = await queued.createUser();
    const res = await queued.request('POST', '/api/v1/events', {
      token,
      body: { event_name: 'page_view', event_type: 'engagement', payload: { a: 1 } },
    });
    const id: string = res.body.event_id;
    await until('queued', () => statusIs(queued, [id], 'queued'));
    const handle = queued.temporal.workflow.getHandle(eventWorkflowId(id));
    const first = (await handle.describe()).runId;
    await handle.terminate('lost while queued');
    await staleWait();

    expect(await queued.sweeper.sweep()).toEqual([
      { workflowId: eventWorkflowId(id), decision: 'restarted' },
    ]);
    // The outbox started a new run of the same workflow id, which waits for a worker.
    await until('queued again', () => statusIs(queued, [id], 'queued'));
    const second = await handle.describe();
    expect(second.status.name).toBe('RUNNING');
    expect(second.runId).not.toBe(first);

    const worker = await harness();
    expect((await worker.waitForEvent(token, id, ['processed', 'failed'])).status).toBe(
      'processed',
    );
  }, 90_000);

  it('restarts a batch whose run was lost mid-way, with one decision for all its events', async () => {
    held = true;
    const h = await harness({
      wrapActivities: holdSecondChunk,
      env: { BATCH_CHUNK_MAX_EVENTS: '4' },
    });
    const { token } = await h.createUser();
    const res = await h.request('POST', '/api/v1/events/batch', {
      token,
      body: {
        events: Array.from({ length: 12 }, (_, i) => ({
          event_name: 'click',
          event_type: 'interaction',
          payload: { i },
        })),
      },
    });
    expect(res.status).toBe(202);
    const ids: string[] = res.body.event_ids;
    const workflowId: string = res.body.workflow_id;
    // The first chunk went through, the second is held: the run has every event `processing`.
    await until('the first chunk is normalized', async () => {
      const rows = await createSql(h.orm)<{ n: number }>(
        `select count(*)::int as n from events
          where batch_id = $1 and status = 'processing' and properties is not null`,
        [res.body.batch_id],
      );
      return rows[0]!.n === 4 ? true : undefined;
    });
    await h.temporal.workflow.getHandle(workflowId).terminate('lost mid-way');
    held = false;
    await staleWait();
    expect(await statusIs(h, ids, 'processing')).toBeDefined();

    expect(await h.sweeper.sweep()).toEqual([{ workflowId, decision: 'restarted' }]);
    const done = await until('processed', () => statusIs(h, ids, 'processed'));
    // Taken up by the lost run and by the new one, and processed by the new one alone.
    expect(done.map((r) => r.attempts)).toEqual(ids.map(() => 2));
    const batch = await h.request('GET', `/api/v1/batches/${res.body.batch_id}`, { token });
    expect(batch.body).toMatchObject({ status: 'completed', counts: { processed: 12 } });
  }, 90_000);

  it('fails, with the reason, the events of a run lost once they have had their runs', async () => {
    const queued = await harness({ noWorker: true });
    const { token } = await queued.createUser();
    const res = await queued.request('POST', '/api/v1/events', {
      token,
      body: { event_name: 'page_view', event_type: 'engagement' },
    });
    const id: string = res.body.event_id;
    await until('queued', () => statusIs(queued, [id], 'queued'));
    // As if three runs had taken it up and been lost: the rule says fail it.
    await createSql(queued.orm)(
      `update events set status = 'processing', attempts = 3 where id = $1`,
      [id],
    );
    await queued.temporal.workflow.getHandle(eventWorkflowId(id)).terminate('lost again');
    await staleWait();

    expect(await queued.sweeper.sweep()).toEqual([
      { workflowId: eventWorkflowId(id), decision: 'failed' },
    ]);
    const failed = await queued.waitForEvent(token, id, ['failed']);
    expect(failed.processing_error).toBe(
      'error: its workflow run was terminated without finishing it, after 3 runs; reprocess it once the cause is fixed',
    );
    // The way out stays open: reprocess starts a run.
    const again = await queued.request('POST', `/api/v1/events/${id}/reprocess`, { token });
    expect(again.status).toBe(202);
  }, 60_000);

  it('asks about a bounded number of runs per pass, leaves live ones alone for a while, and decides each once across processes', async () => {
    // Passes of 20 describes take a while on a loaded machine: a lease must outlast them here.
    const staleMs = 3000;
    const queued = await harness({ noWorker: true, env: { RUN_SWEEP_STALE_MS: String(staleMs) } });
    const leaseOver = () => new Promise((r) => setTimeout(r, staleMs + 200));
    const { token } = await queued.createUser();
    const count = MAX_RUNS_CHECKED_PER_PASS + 5;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await queued.request('POST', '/api/v1/events', {
        token,
        body: { event_name: 'page_view', event_type: 'engagement', payload: { i } },
      });
      ids.push(res.body.event_id);
    }
    await until('all queued', () => statusIs(queued, ids, 'queued'));
    // No worker: every run waits, alive. The oldest unfinished row is older than any unstarted
    // (the figures are those of the outbox's last pass, a second old at most).
    const ready = await until('the figures show no unstarted event', async () => {
      const body = (await queued.request('GET', '/ready')).body;
      return body.backlog.unstarted === 0 ? body : undefined;
    });
    expect(ready.backlog.oldest_unfinished_age_sec).toBeGreaterThan(0);
    const metrics = (await queued.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^events_backlog_oldest_age_seconds 0$/m);
    const age = Number(/^events_unfinished_oldest_age_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThan(0);
    await leaseOver();

    const calls = countTemporalCalls(queued.temporal);
    try {
      const first = await queued.sweeper.sweep();
      expect(first).toHaveLength(MAX_RUNS_CHECKED_PER_PASS);
      expect(first.every((r) => r.decision === 'alive')).toBe(true);
      expect(calls.calls.describeWorkflowExecution).toBe(MAX_RUNS_CHECKED_PER_PASS);
      // The rest now; those found alive wait RUN_SWEEP_STALE_MS before they are asked again.
      expect(await queued.sweeper.sweep()).toHaveLength(count - MAX_RUNS_CHECKED_PER_PASS);
      expect(await queued.sweeper.sweep()).toEqual([]);
    } finally {
      calls.restore();
    }

    // Terminated, they are decided by exactly one of two sweepers passing at once.
    for (const id of ids) {
      await queued.temporal.workflow.getHandle(eventWorkflowId(id)).terminate('lost');
    }
    await leaseOver();
    const other = startRunSweeper({
      sql: createSql(queued.orm),
      workflows: createEventWorkflowStarter(queued.temporal, queued.config),
      outbox: queued.outbox,
      logger: createLogger('silent'),
      intervalMs: 0,
      staleMs,
    });
    const decided: string[] = [];
    for (let pass = 0; pass < 3; pass++) {
      const [a, b] = await Promise.all([queued.sweeper.sweep(), other.sweep()]);
      // A new run found alive later (its row unchanged for a lease on a slow machine) is no decision.
      decided.push(
        ...[...a, ...b]
          .filter((r) => r.decision !== 'alive')
          .map((r) => `${r.workflowId} ${r.decision}`),
      );
    }
    await other.stop();
    expect(decided.sort()).toEqual(ids.map((id) => `${eventWorkflowId(id)} restarted`).sort());
    await until('all running again', async () => {
      const states = await Promise.all(ids.map((id) => runStatus(queued, eventWorkflowId(id))));
      return states.every((s) => s === 'RUNNING') ? true : undefined;
    });
  }, 120_000);

  it('gives a run that timed out waiting for a worker a new run, from the timeout the budget sets', async () => {
    const env = {
      EVENT_PROCESSING_TIMEOUT: '1',
      EVENT_MAX_QUEUE_WAIT: '1',
      EVENT_ACTIVITY_TIMEOUT: '1',
    };
    const queued = await harness({ noWorker: true, env });
    const { token } = await queued.createUser();
    const res = await queued.request('POST', '/api/v1/events', {
      token,
      body: { event_name: 'page_view', event_type: 'engagement' },
    });
    const id: string = res.body.event_id;
    const workflowId = eventWorkflowId(id);
    await until('queued', () => statusIs(queued, [id], 'queued'));
    const described = await queued.temporal.workflow.getHandle(workflowId).describe();
    // The longest wait for a worker, the budget, and one attempt to record a failure.
    expect(described.raw.executionConfig?.workflowExecutionTimeout?.seconds?.toString()).toBe('3');
    await until('timed out', async () =>
      (await runStatus(queued, workflowId)) === 'TIMED_OUT' ? true : undefined,
    );
    await queued.close();
    harnesses.splice(harnesses.indexOf(queued), 1);

    // A worker comes back, and the API's own sweeper finds the run gone.
    const back = await harness({ runSweep: true, env: { EVENT_PROCESSING_TIMEOUT: '30' } });
    const done = await back.waitForEvent(token, id, ['processed', 'failed'], 30_000);
    expect(done.status).toBe('processed');
  }, 90_000);
});
