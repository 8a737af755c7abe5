import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProcessingActivities } from '../activities';
import {
  processingActivityOptions,
  processingLocalActivityOptions,
  processingStepOptions,
  recordFailureActivityOptions,
} from './activity-options';
import { describeFailure } from './describe-failure';
import { EVENT_PROCESSING_FAILED } from './failure-types';
import { BatchIdKey, EventStatusKey, UserIdKey } from './search-attributes';
import {
  DEFAULT_BATCH_POLICY,
  DEFAULT_PROCESSING_POLICY,
  type BatchProgress,
  type BatchWorkflowOptions,
  type ProcessBatchResult,
  type ProcessingPolicy,
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
 *
 * A batch that fits in one chunk (as every group of tracking messages does) costs what a single
 * event does: its steps run as local activities in one workflow task, with no timer and one
 * search-attribute write. See `BatchWorkflowOptions.revision`.
 */
export async function processEventBatchWorkflow(
  batchId: string,
  options: BatchWorkflowOptions = {},
): Promise<ProcessBatchResult> {
  if (options.revision !== 2) return processBatchFirstRevision(batchId, options);
  const policy = options.policy ?? DEFAULT_PROCESSING_POLICY;
  const batchPolicy = options.batch ?? DEFAULT_BATCH_POLICY;
  // The budget counts from the first step, as the single chain's does.
  const deadlineMs = options.resume?.deadlineMs ?? Date.now() + policy.processingTimeoutSec * 1000;
  const local = () =>
    proxyLocalActivities<ProcessingActivities>(
      processingLocalActivityOptions(policy, deadlineMs - Date.now()),
    );
  const remote = () =>
    proxyActivities<ProcessingActivities>(processingStepOptions(policy, deadlineMs - Date.now()));
  // EVENT_LOCAL_ACTIVITIES=false gives every step its own activity task, as in the single chain.
  const first = policy.localActivities ? local : remote;
  try {
    let progress: BatchProgress = options.resume ?? {
      plan: await first().fetchBatch(batchId, batchPolicy),
      nextChunk: 0,
      deadlineMs,
    };
    const { chunks, userId } = progress.plan;
    const steps = chunks.length <= 1 ? first : remote;
    while (progress.nextChunk < chunks.length) {
      const info = workflowInfo();
      if (info.historyLength >= batchPolicy.historyEventLimit || info.continueAsNewSuggested) {
        await continueAsNew<typeof processEventBatchWorkflow>(batchId, {
          ...options,
          resume: progress,
        });
      }
      await steps().normalizeBatchChunk(batchId, chunks[progress.nextChunk]!, userId);
      progress = { ...progress, nextChunk: progress.nextChunk + 1 };
    }
    await steps().persistBatch(batchId);
    const result = await steps().summarizeBatch(batchId);
    upsertSearchAttributes([
      { key: EventStatusKey, value: result.failed === 0 ? 'processed' : 'failed' },
    ]);
    return result;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    return failBatch(batchId, err, policy);
  }
}

/**
 * The first revision, for runs started without one: remote activities throughout, a durable
 * timer for the budget, search attributes upserted as the run goes.
 */
async function processBatchFirstRevision(
  batchId: string,
  options: BatchWorkflowOptions,
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
    return failBatch(batchId, err, policy);
  }
}

/**
 * Records why processing gave up on the batch's unfinished events, even while the run is being
 * cancelled, and fails the run, so operators find it among failed workflows.
 */
async function failBatch(batchId: string, err: unknown, policy: ProcessingPolicy): Promise<never> {
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
