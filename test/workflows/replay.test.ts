import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { createLogger } from '../../src/logger';
import { installTemporalRuntime } from '../../src/worker/runtime';
import * as workflows from '../../workflows';
import { readTestEnv } from '../setup/test-env';

/*
 * Replays every recorded history in test/fixtures/histories against the current workflow code.
 * A change that would make a running workflow take another path than its history records fails
 * here, before a deploy would. See docs/workflow-changes.md.
 */

installTemporalRuntime(createLogger(process.env.TEST_LOG_LEVEL ?? 'warn'));

const DIR = path.join(__dirname, '..', 'fixtures', 'histories');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

/** The outcomes of each workflow that must always have a recorded history. */
const REQUIRED = [
  'processEventWorkflow.processed.json',
  'processEventWorkflow.validation-error.json',
  'processEventWorkflow.retries-exhausted.json',
  // Revision 2 of the event chain, as local activities (the default) and as activity tasks.
  'processEventWorkflow.processed.revision2-local.json',
  'processEventWorkflow.validation-error.revision2-local.json',
  'processEventWorkflow.retries-exhausted.revision2-local.json',
  'processEventWorkflow.timed-out.revision2-local.json',
  'processEventWorkflow.processed-activity-tasks.revision2.json',
  'processEventBatchWorkflow.with-failures.json',
  'processEventBatchWorkflow.continued-as-new.json',
  'processEventBatchWorkflow.batch-retries-exhausted.json',
  // The one-pass chunk chain (patch `batch-one-pass-chunks`).
  'processEventBatchWorkflow.with-failures.batch-one-pass-chunks.json',
  'processEventBatchWorkflow.continued-as-new.batch-one-pass-chunks.json',
  'processEventBatchWorkflow.batch-retries-exhausted.batch-one-pass-chunks.json',
  // Revision 2 of the batch chain: one chunk as local activities, more as activity tasks.
  'processEventBatchWorkflow.with-failures.revision2.json',
  'processEventBatchWorkflow.continued-as-new.revision2.json',
  'processEventBatchWorkflow.batch-retries-exhausted.revision2.json',
  'processEventBatchWorkflow.batch-timed-out.revision2.json',
];

const CLOSED = [
  'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT',
  'EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW',
];

interface HistoryJson {
  events: {
    eventType: string;
    workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
  }[];
}

const read = (file: string) =>
  JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as HistoryJson;

const workflowTypeOf = (history: HistoryJson) =>
  history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

describe('recorded workflow histories', () => {
  const results = new Map<string, ReplayResult>();

  beforeAll(async () => {
    const histories = FILES.map((file) => ({ workflowId: file, history: read(file) }));
    const replay = Worker.runReplayHistories(
      { workflowBundle: { codePath: readTestEnv().workflowBundlePath } },
      histories,
    );
    for await (const result of replay) results.set(result.workflowId, result);
  });

  it('cover every outcome that must stay replayable', () => {
    expect(FILES).toEqual(expect.arrayContaining(REQUIRED));
  });

  it.each(FILES)('%s is a whole history of a workflow the worker runs', (file) => {
    const history = read(file);
    expect(Object.keys(workflows)).toContain(workflowTypeOf(history));
    expect(CLOSED).toContain(history.events.at(-1)?.eventType);
  });

  it.each(FILES)('%s replays without non-determinism', (file) => {
    const result = results.get(file);
    expect(result).toBeDefined();
    if (result?.error) throw result.error;
  });
});
