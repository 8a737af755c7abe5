import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Orm } from '../src/db/orm';
import { BatchSchema } from '../src/events/batch.entity';
import { parseExactly, stringifyExactly } from '../src/json/exact-json';
import type { Logger } from '../src/logger';
import { EVENT_NOT_FOUND_ERROR } from '../workflows/failure-types';
import type {
  BatchChunk,
  BatchEventResult,
  BatchPlan,
  BatchPolicy,
  EventFailure,
  ProcessBatchResult,
} from '../workflows/types';
import { buildProperties } from './payload-normalization';
import {
  PayloadValidationError,
  validatePayloadShape,
  validateRequiredFields,
} from './payload-rules';

export interface BatchActivityDeps {
  orm: Orm;
  logger: Logger;
}

interface ChunkRow {
  id: string;
  event_name: string;
  event_type: string;
  payload: unknown;
}

/**
 * The steps of `processEventBatchWorkflow`: the single-event chain, set-based. Each step works
 * on one chunk of the batch (bounded in payload bytes, so worker memory stays bounded), reads
 * and writes with one statement per chunk rather than one per event, and only touches rows
 * still `processing`, so Temporal may rerun any of them without applying anything twice.
 */
export function createBatchActivities({ orm, logger }: BatchActivityDeps) {
  const sql = async <T = unknown>(query: string, params: unknown[] = []): Promise<T> =>
    (await orm.em.fork().getConnection().execute(query, params)) as T;

  return {
    /** Loads the batch, moves its unfinished events to `processing`, and cuts it into chunks. */
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
      await sql(
        `update events
            set status = 'processing', updated_at = now(),
                attempts = attempts + (last_run_id is distinct from ?)::int, last_run_id = ?
          where batch_id = ? and status in ('waiting', 'received', 'failed')`,
        [run, run, batchId],
      );
      // The text length of jsonb is a close, slightly generous measure of the JSON size.
      const sizes = await sql<{ id: string; bytes: number }[]>(
        `select id, coalesce(octet_length(payload::text), 0)::int as bytes
           from events where batch_id = ? order by id`,
        [batchId],
      );
      logger.info({ batch_id: batchId, events: sizes.length }, 'batch processing started');
      return {
        batchId,
        userId: batch.user.id,
        totalEvents: sizes.length,
        chunks: cutIntoChunks(sizes, policy),
      };
    },

    /**
     * Validates each event of the chunk on its own; the invalid ones are marked failed with
     * their error in one statement, final and never retried. Returns how many failed.
     */
    async validateBatchChunk(batchId: string, chunk: BatchChunk): Promise<number> {
      const rows = await loadChunk(batchId, chunk);
      const failures: { id: string; error: string }[] = [];
      for (const row of rows) {
        try {
          validateRequiredFields({ eventName: row.event_name, eventType: row.event_type });
          validatePayloadShape(row.payload);
        } catch (err) {
          if (!(err instanceof PayloadValidationError)) throw err;
          failures.push({ id: row.id, error: `validation_error: ${err.message}` });
        }
      }
      if (failures.length > 0) {
        await sql(
          `update events e
              set status = 'failed', processed = false, processing_error = v.error,
                  last_error = v.error, updated_at = now()
             from jsonb_to_recordset(?::jsonb) as v(id uuid, error text)
            where e.id = v.id and e.status = 'processing'`,
          [JSON.stringify(failures)],
        );
      }
      return failures.length;
    },

    /** Stores the normalized properties of the chunk's valid events in one statement. */
    async normalizeBatchChunk(batchId: string, chunk: BatchChunk, userId: string): Promise<void> {
      const rows = await loadChunk(batchId, chunk);
      if (rows.length === 0) return;
      const normalizedAt = new Date();
      const updates = rows.map((row) => ({
        id: row.id,
        properties: buildProperties(validatePayloadShape(row.payload), { userId, normalizedAt }),
      }));
      await sql(
        `update events e set properties = v.properties, updated_at = now()
           from jsonb_to_recordset(?::jsonb) as v(id uuid, properties jsonb)
          where e.id = v.id and e.status = 'processing'`,
        [stringifyExactly(updates)],
      );
    },

    /**
     * Marks every normalized event of the batch processed: one statement, one transaction, all
     * or nothing. A rerun finds nothing left to mark, so processed_at is written once.
     */
    async persistBatch(batchId: string): Promise<number> {
      const rows = await sql<{ n: number }[]>(
        `with done as (
           update events
              set status = 'processed', processed = true, processed_at = now(),
                  processing_error = null, updated_at = now()
            where batch_id = ? and status = 'processing' and properties is not null
           returning 1)
         select count(*)::int as n from done`,
        [batchId],
      );
      const n = rows[0]?.n ?? 0;
      logger.info({ batch_id: batchId, processed: n }, 'batch persisted');
      return n;
    },

    /** Reads the outcome of every event of the batch, in id order. */
    async summarizeBatch(batchId: string): Promise<ProcessBatchResult> {
      const rows = await sql<{ id: string; status: string; processing_error: string | null }[]>(
        `select id, status, processing_error from events where batch_id = ? order by id`,
        [batchId],
      );
      const results: BatchEventResult[] = rows.map((r) =>
        r.status === 'processed'
          ? { event_id: r.id, status: 'processed' }
          : { event_id: r.id, status: 'failed', error: r.processing_error ?? r.status },
      );
      const processed = results.filter((r) => r.status === 'processed').length;
      return {
        status: 'success',
        batch_id: batchId,
        total_events: results.length,
        processed,
        failed: results.length - processed,
        results,
      };
    },

    /** Records why processing gave up on every event of the batch not yet finished. */
    async markBatchFailed(batchId: string, failure: EventFailure): Promise<void> {
      await sql(
        `update events set status = 'failed', processed = false, processing_error = ?,
                last_error = ?, updated_at = now()
          where batch_id = ? and status in ('waiting', 'received', 'processing')`,
        [`${failure.kind}: ${failure.message}`, `${failure.kind}: ${failure.message}`, batchId],
      );
      logger.warn({ batch_id: batchId, error: failure.message }, 'batch failed');
    },
  };

  async function loadChunk(batchId: string, chunk: BatchChunk): Promise<ChunkRow[]> {
    return sql<ChunkRow[]>(
      `select id, event_name, event_type, payload::text as payload from events
        where batch_id = ? and id between ? and ? and status = 'processing'
        order by id`,
      [batchId, chunk.firstId, chunk.lastId],
    ).then((rows) =>
      // As text, parsed exactly: integers past 2^53 keep their digits (see exact-json.ts).
      rows.map((r) => ({
        ...r,
        payload: r.payload === null ? null : parseExactly(r.payload as string),
      })),
    );
  }
}

/** Greedy cut in id order: a chunk closes before it would pass either bound. */
export function cutIntoChunks(
  sizes: { id: string; bytes: number }[],
  policy: Pick<BatchPolicy, 'chunkMaxBytes' | 'chunkMaxEvents'>,
): BatchChunk[] {
  const chunks: BatchChunk[] = [];
  let current: BatchChunk | undefined;
  for (const { id, bytes } of sizes) {
    if (
      current &&
      (current.events + 1 > policy.chunkMaxEvents || current.bytes + bytes > policy.chunkMaxBytes)
    ) {
      chunks.push(current);
      current = undefined;
    }
    current = current
      ? { ...current, lastId: id, events: current.events + 1, bytes: current.bytes + bytes }
      : { firstId: id, lastId: id, events: 1, bytes };
  }
  if (current) chunks.push(current);
  return chunks;
}
