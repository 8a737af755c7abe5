import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Orm } from '../src/db/orm';
import { createSql } from '../src/db/sql';
import { BatchSchema } from '../src/events/batch.entity';
import {
  claimForProcessing,
  markFailed,
  markProcessed,
  writeChunkOutcome,
  type ChunkMoved,
} from '../src/events/event-transitions';
import type { CompiledPlan } from '../src/tracking-plans/compile-plan';
import type { Violation } from '../src/tracking-plans/violation';
import { stringifyExactly } from '../src/json/exact-json';
import type { Logger } from '../src/logger';
import { EVENT_NOT_FOUND_ERROR } from '../workflows/failure-types';
import type {
  BatchChunk,
  BatchEventResult,
  BatchPlan,
  BatchPolicy,
  ChunkOutcome,
  EventFailure,
  ProcessBatchResult,
} from '../workflows/types';
import { MAX_REPORTED_FAILURES } from '../workflows/types';
import { ByteBudget } from '../src/concurrency/byte-budget';
import { UNCOUNTED, type EventOutcomes } from './event-outcomes';
import { buildProperties } from './payload-normalization';
import type { JsonObject } from './payload-rules';
import { createPlanCache, type PlanCache } from './plan-cache';
import { cutIntoChunks } from './batch-chunks';
import {
  judgeEvent,
  readEventsToJudge,
  type EventToJudge,
  type Judgement,
} from './event-judgement';

export interface BatchActivityDeps {
  orm: Orm;
  logger: Logger;
  /** Told of every event the activities end; the worker's metrics count them. */
  outcomes?: EventOutcomes;
  /** Compiled tracking plans, shared by the activities of one worker. */
  plans?: PlanCache;
}

/**
 * Four chunks of the default 4 MB in flight at once. Parsed, normalized and serialized again, a
 * chunk takes about 8 to 10 times its payload bytes of heap, so this bounds batch work to about
 * 160 MB on top of what the worker holds anyway.
 */
const CHUNK_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * The steps of `processEventBatchWorkflow`: the single-event chain, set-based. Each step works
 * on one chunk of the batch (bounded in payload bytes, so worker memory stays bounded), reads
 * and writes with one statement per chunk rather than one per event, and only touches rows
 * still `processing`, so Temporal may rerun any of them without applying anything twice.
 */
export function createBatchActivities({
  orm,
  logger,
  outcomes = UNCOUNTED,
  plans = createPlanCache(createSql(orm)),
}: BatchActivityDeps) {
  const budget = new ByteBudget(CHUNK_BYTES_IN_FLIGHT);
  const sql = createSql(orm);

  /** Writes a chunk's outcome and counts what it moved. */
  async function writeOutcome(results: ChunkResult[]): Promise<void> {
    const moved = await writeChunkOutcome(
      sql,
      stringifyExactly(results),
      results.some((r) => r.violations),
    );
    countMoved(moved, outcomes);
  }

  return {
    /** Loads the batch, moves its unfinished events to `processing`, and cuts them into chunks. */
    async fetchBatch(batchId: string, policy: BatchPolicy): Promise<BatchPlan> {
      const batch = await orm.em.fork().findOne(BatchSchema, { id: batchId });
      if (!batch) {
        throw ApplicationFailure.create({
          type: EVENT_NOT_FOUND_ERROR,
          message: `batch ${batchId} does not exist`,
          nonRetryable: true,
        });
      }
      const run = Context.current().info.workflowExecution?.runId ?? null;
      // One statement claims the unfinished events and measures them: only they are cut into
      // chunks. `processing` ones are claimed again (the run guard keeps `attempts` right), so a
      // rerun of this step after its commit still plans every event not yet finished. The text
      // length of jsonb is a close, slightly generous measure of the JSON size.
      const sizes = (
        await claimForProcessing<{ id: string; bytes: number }>(
          sql,
          { batchId },
          run,
          'id, coalesce(octet_length(payload::text), 0)::int as bytes',
        )
      ).sort((x, y) => (x.id < y.id ? -1 : 1));
      logger.info({ batch_id: batchId, events: sizes.length }, 'batch processing started');
      return {
        batchId,
        userId: batch.user.id,
        totalEvents: sizes.length,
        chunks: cutIntoChunks(sizes, policy),
      };
    },

    /**
     * The first read of the chain before the one-pass chunk (`normalizeBatchChunk` now validates
     * too): kept for runs started before it, whose histories call it. Validates each event of the
     * chunk on its own; the invalid ones are marked failed with their error in one statement,
     * final and never retried. Returns how many failed.
     */
    async validateBatchChunk(batchId: string, chunk: BatchChunk): Promise<number> {
      return budget.run(chunk.bytes, async () => {
        const rows = await loadChunk(batchId, chunk);
        const planOf = await plansFor(rows);
        const failures: ChunkResult[] = [];
        for (const row of rows) {
          // Violations a plan only reports are recorded by normalizeBatchChunk, next in this chain.
          const judged = judgeEvent(row, planOf(row));
          if (judged.kind !== 'accepted') failures.push(failureOf(row, judged));
        }
        if (failures.length > 0) await writeOutcome(failures);
        return failures.length;
      });
    },

    /**
     * One pass over a chunk: reads its payloads once, validates each event on its own (the
     * payload rules, then the tracking plan version recorded on it) and normalizes the valid
     * ones in memory, then writes the chunk's whole outcome with one statement (one
     * transaction): invalid events `failed` with their reason, final and never retried; valid
     * ones with their properties (and the violations a plan in `report` mode found), left
     * `processing` for `persistBatch`. Only rows still `processing` are read and written: a
     * rerun skips the events it failed and writes the same properties again for the others, so
     * nothing is applied twice.
     *
     * Runs `processEventBatchWorkflow` started before the one-pass chain validate first with
     * `validateBatchChunk`; their invalid events are `failed` by then and not read again here.
     */
    async normalizeBatchChunk(
      batchId: string,
      chunk: BatchChunk,
      userId: string,
    ): Promise<ChunkOutcome> {
      return budget.run(chunk.bytes, async () => {
        const rows = await loadChunk(batchId, chunk);
        const planOf = await plansFor(rows);
        const normalizedAt = new Date();
        const results: ChunkResult[] = [];
        let failed = 0;
        for (const row of rows) {
          const judged = judgeEvent(row, planOf(row));
          if (judged.kind !== 'accepted') {
            failed += 1;
            results.push(failureOf(row, judged));
          } else {
            results.push({
              id: row.id,
              properties: buildProperties(judged.payload, { userId, normalizedAt }),
              error: null,
              ...(judged.violations && { violations: judged.violations }),
            });
          }
        }
        if (results.length > 0) await writeOutcome(results);
        return { events: rows.length, normalized: rows.length - failed, failed };
      });
    },

    /**
     * Marks every normalized event of the batch processed: one statement, one transaction, all
     * or nothing. A rerun finds nothing left to mark, so processed_at is written once.
     */
    async persistBatch(batchId: string): Promise<number> {
      const processedByType = await markProcessed(sql, { batchId });
      let n = 0;
      for (const { event_type, n: count } of processedByType) {
        outcomes.processed(event_type, count);
        n += count;
      }
      logger.info({ batch_id: batchId, processed: n }, 'batch persisted');
      return n;
    },

    /**
     * Counts the outcomes of the batch's events and names the failed ones, at most
     * `MAX_REPORTED_FAILURES` in id order: the result crosses history, whose payloads are
     * limited to 2 MB, and a batch may hold 100,000 events.
     */
    async summarizeBatch(batchId: string): Promise<ProcessBatchResult> {
      const [counts] = await sql<{ total: number; processed: number }>(
        `select count(*)::int as total,
                (count(*) filter (where status = 'processed'))::int as processed
           from events where batch_id = $1`,
        [batchId],
      );
      const failures = await sql<{ id: string; status: string; processing_error: string | null }>(
        `select id, status, processing_error from events
          where batch_id = $1 and status <> 'processed' order by id limit $2`,
        [batchId, MAX_REPORTED_FAILURES],
      );
      const total = counts?.total ?? 0;
      const processed = counts?.processed ?? 0;
      const failed = total - processed;
      const results: BatchEventResult[] = failures.map((r) => ({
        event_id: r.id,
        status: 'failed',
        error: r.processing_error ?? r.status,
      }));
      return {
        status: 'success',
        batch_id: batchId,
        total_events: total,
        processed,
        failed,
        results,
        ...(failed > results.length ? { failures_not_listed: failed - results.length } : {}),
      };
    },

    /** Records why processing gave up on every event of the batch not yet finished. */
    async markBatchFailed(batchId: string, failure: EventFailure): Promise<void> {
      const failedByType = await markFailed(
        sql,
        { batchId },
        `${failure.kind}: ${failure.message}`,
      );
      for (const { event_type, n } of failedByType) outcomes.failed(event_type, failure.kind, n);
      logger.warn({ batch_id: batchId, error: failure.message }, 'batch failed');
    },
  };

  /**
   * The compiled plan version recorded on each row of a chunk: the rows of one batch were
   * accepted together, so they share one version, read (once per worker) and compiled before
   * the loop over the rows starts.
   */
  async function plansFor(
    rows: EventToJudge[],
  ): Promise<(row: EventToJudge) => CompiledPlan | undefined> {
    const compiled = new Map<string, CompiledPlan>();
    for (const { user_id, plan_version } of rows) {
      const key = `${user_id}:${plan_version}`;
      if (plan_version === null || compiled.has(key)) continue;
      compiled.set(key, await plans.get(user_id, plan_version));
    }
    return (row) => compiled.get(`${row.user_id}:${row.plan_version}`);
  }

  function loadChunk(batchId: string, chunk: BatchChunk): Promise<EventToJudge[]> {
    return readEventsToJudge(
      sql,
      `batch_id = $1 and id between $2 and $3 and status = 'processing' order by id`,
      [batchId, chunk.firstId, chunk.lastId],
    );
  }
}

/** One event's outcome in a chunk, as `writeChunkOutcome` takes it. */
interface ChunkResult {
  id: string;
  properties: JsonObject | null;
  error: string | null;
  violations?: Violation[];
}

/** A refused event's outcome: failed with its reason, final and never retried. */
function failureOf(
  row: EventToJudge,
  judged: Exclude<Judgement, { kind: 'accepted' }>,
): ChunkResult {
  return {
    id: row.id,
    properties: null,
    error: `validation_error: ${judged.reason}`,
    ...(judged.kind === 'rejected' && { violations: judged.violations }),
  };
}

/** Reports what a chunk's outcome moved: its failures by type, its new violations by name. */
function countMoved(moved: ChunkMoved[], outcomes: EventOutcomes): void {
  for (const { event_type, event_name, failed, violated, n } of moved) {
    if (failed) outcomes.failed(event_type, 'validation_error', n);
    if (violated) outcomes.violated(event_name, failed ? 'failed' : 'reported', n);
  }
}
