import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  patched,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProcessingActivities } from '../activities';
import { processingActivityOptions, recordFailureActivityOptions } from './activity-options';
import { describeFailure } from './describe-failure';
import { EVENT_PROCESSING_FAILED } from './failure-types';
import { BatchIdKey, EventStatusKey, UserIdKey } from './search-attributes';
import {
  DEFAULT_BATCH_POLICY,
  DEFAULT_PROCESSING_POLICY,
  type BatchProgress,
  type BatchWorkflowOptions,
  type ProcessBatchResult,
} from './types';

/**
 * Since this patch each chunk is one step, `normalizeBatchChunk`, that reads the chunk's payloads
 * once and validates and normalizes them in memory; runs started before it (no marker in their
 * history) keep calling `validateBatchChunk` first. See docs/workflow-changes.md.
 */
const ONE_PASS_CHUNKS = 'batch-one-pass-chunks';

/**
 * Processes every event of a batch with the single-event chain, set-based: fetch the batch and
 * cut it into chunks by payload bytes, validate and normalize chunk by chunk in one pass (each
 * event's validation stands alone: an invalid one is marked failed on its own row), then persist
 * every normalized event in one transaction and return the summary: counts, and the failed
 * events by id (bounded, so the result fits in history whatever the batch size).
 *
 * Only the batch id and chunk bounds cross history, never payloads. Between chunks the run
 * continues as new once its history passes the configured length, carrying its progress, so
 * no batch size can push history towards Temporal's limits.
 */
export async function processEventBatchWorkflow(
  batchId: string,
  options: BatchWorkflowOptions = {},
): Promise<ProcessBatchResult> {
  const policy = options.policy ?? DEFAULT_PROCESSING_POLICY;
  const batchPolicy = options.batch ?? DEFAULT_BATCH_POLICY;
  const steps = proxyActivities<ProcessingActivities>(processingActivityOptions(policy));
  upsertSearchAttributes([{ key: BatchIdKey, value: batchId }]);

  const deadlineMs = options.resume?.deadlineMs ?? Date.now() + policy.processingTimeoutSec * 1000;
  try {
    const result = await CancellationScope.withTimeout(
      Math.max(deadlineMs - Date.now(), 0),
      async () => {
        let progress: BatchProgress = options.resume ?? {
          plan: await steps.fetchBatch(batchId, batchPolicy),
          nextChunk: 0,
          deadlineMs,
        };
        upsertSearchAttributes([
          { key: UserIdKey, value: progress.plan.userId },
          { key: EventStatusKey, value: 'processing' },
        ]);
        const { chunks } = progress.plan;
        while (progress.nextChunk < chunks.length) {
          const info = workflowInfo();
          if (info.historyLength >= batchPolicy.historyEventLimit || info.continueAsNewSuggested) {
            await continueAsNew<typeof processEventBatchWorkflow>(batchId, {
              ...options,
              resume: progress,
            });
          }
          const chunk = chunks[progress.nextChunk]!;
          if (patched(ONE_PASS_CHUNKS)) {
            await steps.normalizeBatchChunk(batchId, chunk, progress.plan.userId);
          } else {
            const failed = await steps.validateBatchChunk(batchId, chunk);
            if (failed < chunk.events) {
              await steps.normalizeBatchChunk(batchId, chunk, progress.plan.userId);
            }
          }
          progress = { ...progress, nextChunk: progress.nextChunk + 1 };
        }
        await steps.persistBatch(batchId);
        return steps.summarizeBatch(batchId);
      },
    );
    upsertSearchAttributes([
      { key: EventStatusKey, value: result.failed === 0 ? 'processed' : 'failed' },
    ]);
    return result;
  } catch (err) {
    // Continuing as new is how this run hands over, not a failure.
    if (err instanceof ContinueAsNew) throw err;
    const failure = describeFailure(err, policy);
    const { markBatchFailed } = proxyActivities<ProcessingActivities>(
      recordFailureActivityOptions(policy),
    );
    await CancellationScope.nonCancellable(() => markBatchFailed(batchId, failure));
    upsertSearchAttributes([{ key: EventStatusKey, value: 'failed' }]);
    throw ApplicationFailure.create({
      type: EVENT_PROCESSING_FAILED,
      message: `batch ${batchId} failed: ${failure.message}`,
      nonRetryable: true,
      cause: err instanceof Error ? err : undefined,
    });
  }
}
