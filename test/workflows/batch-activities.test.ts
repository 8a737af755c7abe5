import { MockActivityEnvironment } from '@temporalio/testing';
import { createBatchActivities } from '../../activities/batch-activities';
import { createLogger } from '../../src/logger';
import { DEFAULT_BATCH_POLICY } from '../../workflows/types';
import { Harness } from '../support/harness';

/*
 * The batch activities driven directly, as each chain calls them: runs started before the
 * one-pass chunk (validateBatchChunk, then normalizeBatchChunk) still open at a deploy run on
 * these activities, and must end as runs of the new chain do.
 */

let h: Harness;
let token: string;
beforeAll(async () => {
  // No worker: the batch's workflow stays queued, and the test plays its steps.
  h = await Harness.start({ noWorker: true });
  token = (await h.createUser()).token;
});
afterAll(() => h.close());

function deep(levels: number): Record<string, unknown> {
  let v: unknown = {};
  for (let i = 0; i < levels; i++) v = { k: v };
  return v as Record<string, unknown>;
}

async function acceptedBatch(): Promise<string> {
  const events = Array.from({ length: 12 }, (_, i) => ({
    event_name: 'click',
    event_type: 'interaction',
    payload: i === 4 || i === 9 ? deep(11) : { i, at: '2025-12-18T12:30:00+02:00' },
  }));
  const res = await h.request('POST', '/api/v1/events/batch', { token, body: { events } });
  expect(res.status).toBe(202);
  return res.body.batch_id as string;
}

async function statuses(batchId: string) {
  return h.orm.em
    .fork()
    .getConnection()
    .execute<{ status: string; has_properties: boolean; processing_error: string | null }[]>(
      `select status, properties is not null as has_properties, processing_error
         from events where batch_id = ? order by id`,
      [batchId],
    );
}

describe.each([
  ['the one-pass chain', false],
  ['the chain before it (validate, then normalize)', true],
])('batch activities in %s', (_name, validateFirst) => {
  it('fail the invalid events alone and process the others, rerunning harmlessly', async () => {
    const steps = createBatchActivities({ orm: h.orm, logger: createLogger('silent') });
    const env = new MockActivityEnvironment();
    const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) =>
      env.run(fn, ...args) as Promise<R>;
    const batchId = await acceptedBatch();
    const policy = { ...DEFAULT_BATCH_POLICY, chunkMaxEvents: 5 };
    const plan = await run(steps.fetchBatch, batchId, policy);
    expect(plan.chunks.map((c) => c.events)).toEqual([5, 5, 2]);
    for (const chunk of plan.chunks) {
      if (validateFirst) await run(steps.validateBatchChunk, batchId, chunk);
      const outcome = await run(steps.normalizeBatchChunk, batchId, chunk, plan.userId);
      // A rerun (a lost acknowledgement) changes nothing.
      const again = await run(steps.normalizeBatchChunk, batchId, chunk, plan.userId);
      expect(again.failed).toBe(0);
      expect(again.normalized).toBe(outcome.normalized);
    }
    expect(await run(steps.persistBatch, batchId)).toBe(10);
    expect(await run(steps.persistBatch, batchId)).toBe(0);
    const summary = await run(steps.summarizeBatch, batchId);
    expect(summary).toMatchObject({ total_events: 12, processed: 10, failed: 2 });
    expect(summary.results).toHaveLength(2);
    expect(summary.results.every((r) => r.error?.includes('max nesting depth'))).toBe(true);

    const rows = await statuses(batchId);
    expect(rows.filter((r) => r.status === 'processed' && r.has_properties)).toHaveLength(10);
    expect(
      rows.filter(
        (r) =>
          r.status === 'failed' &&
          !r.has_properties &&
          r.processing_error === 'validation_error: Payload exceeds max nesting depth (10)',
      ),
    ).toHaveLength(2);
  });
});
