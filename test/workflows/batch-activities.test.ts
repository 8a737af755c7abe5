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

describe.each([
  ['the one-pass chain', false],
  ['the chain before it (validate, then normalize)', true],
])('batch activities with a tracking plan, in %s', (_name, validateFirst) => {
  it.each(['enforce', 'report'])(
    '%s: the violators are decided by the plan, their violations counted once over reruns',
    async (mode) => {
      const { token } = await h.createUser();
      const put = await h.request('PUT', '/api/v1/tracking-plan', {
        token,
        body: { mode, events: { click: { type: 'object', required: ['i'] } } },
      });
      expect(put.status).toBe(200);
      const events = Array.from({ length: 8 }, (_, i) => ({
        event_name: 'click',
        event_type: 'interaction',
        payload: i % 4 === 0 ? { other: i } : { i },
      }));
      const res = await h.request('POST', '/api/v1/events/batch', { token, body: { events } });
      expect(res.status).toBe(202);
      const batchId = res.body.batch_id as string;

      const counted: Record<string, number> = {};
      const count = (key: string, n = 1) => (counted[key] = (counted[key] ?? 0) + n);
      const steps = createBatchActivities({
        orm: h.orm,
        logger: createLogger('silent'),
        outcomes: {
          processed: (type, n) => count(`processed ${type}`, n),
          failed: (type, reason, n) => count(`failed ${type} ${reason}`, n),
          violated: (name, outcome, n) => count(`violated ${name} ${outcome}`, n),
        },
      });
      const env = new MockActivityEnvironment();
      const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A) =>
        env.run(fn, ...args) as Promise<R>;
      const plan = await run(steps.fetchBatch, batchId, {
        ...DEFAULT_BATCH_POLICY,
        chunkMaxEvents: 3,
      });
      for (const chunk of plan.chunks) {
        for (let attempt = 0; attempt < 2; attempt++) {
          if (validateFirst) await run(steps.validateBatchChunk, batchId, chunk);
          await run(steps.normalizeBatchChunk, batchId, chunk, plan.userId);
        }
      }
      await run(steps.persistBatch, batchId);

      const rows = await h.orm.em
        .fork()
        .getConnection()
        .execute<{ status: string; violations: unknown; processing_error: string | null }[]>(
          `select status, violations, processing_error from events where batch_id = ? order by id`,
          [batchId],
        );
      const violation = [
        { path: 'payload', rule: 'required', message: "must have required property 'i'" },
      ];
      rows.forEach((row, i) => {
        const violator = i % 4 === 0;
        expect({ i, ...row }).toEqual({
          i,
          status: violator && mode === 'enforce' ? 'failed' : 'processed',
          violations: violator ? violation : null,
          processing_error:
            violator && mode === 'enforce'
              ? `validation_error: tracking plan version 1: payload: must have required property 'i'`
              : null,
        });
      });
      expect(counted).toEqual(
        mode === 'enforce'
          ? {
              'failed interaction validation_error': 2,
              'violated click failed': 2,
              'processed interaction': 6,
            }
          : { 'violated click reported': 2, 'processed interaction': 8 },
      );
    },
  );
});
