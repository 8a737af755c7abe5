/**
 * `npm run histories:export [-- --only a,b] [-- --suffix v2] [-- --out dir]`: records a real
 * history of each outcome of the workflows, as the fixtures `test/workflows/replay.test.ts`
 * replays, into test/fixtures/histories (or `--out`) as `<type>.<scenario>[.<suffix>].json`.
 * Each scenario posts its events to the real API of a live stack restarted with the scenario's
 * settings and faults. Read docs/workflow-changes.md before replacing fixtures: an old history
 * proves that runs on the old code can go on after a deploy.
 */
import { realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { createActivities } from '../activities';
import { runMain } from '../src/run-main';
import { processEventBatchWorkflow, processEventWorkflow } from '../workflows';
import { startStack, waitFor, type ServiceOptions } from './support/stack';

type Activities = ReturnType<typeof createActivities>;
type Payload = Record<string, unknown>;

const ROOT = path.resolve(__dirname, '..');

/** With the service settings and faults it needs. */
interface Scenario extends ServiceOptions {
  /** Names the fixture: `<workflow type>.<name>.json`. */
  name: string;
  /** How the run must end (its result's status, or `failed`); else the scenario is wrong. */
  outcome: 'success' | 'validation_error' | 'failed';
  /** The payload of the one event posted, or of each event of the batch posted. */
  event?: Payload;
  batch?: Payload[];
  /** Record a second run for the event, once processed: it stops after fetchEvent. */
  rerun?: boolean;
  /** Record the run the last one continued from. */
  continuedFrom?: boolean;
}

const nested = (n: number): Payload => (n > 1 ? { k: nested(n - 1) } : { leaf: true });

const event = (event_name: string, event_type: string) => (payload: unknown) => ({
  event_name,
  event_type,
  payload,
});

const failing = (step: keyof Activities) => (a: Activities) => ({
  ...a,
  [step]: () => Promise.reject(new Error('could not connect to server')),
});

const SCENARIOS: Scenario[] = [
  { name: 'processed', outcome: 'success', event: { page: '/home', duration: 45 } },
  {
    name: 'processed-activity-tasks',
    outcome: 'success',
    event: { page: '/home', duration: 45 },
    env: { EVENT_LOCAL_ACTIVITIES: 'false' },
  },
  // Accepted by the API (it allows 64 levels), refused by the payload rules (10).
  { name: 'validation-error', outcome: 'validation_error', event: nested(11) },
  { name: 'already-processed', outcome: 'success', event: { page: '/again' }, rerun: true },
  {
    name: 'retries-exhausted',
    outcome: 'failed',
    event: { page: '/down' },
    env: { EVENT_MAX_RETRIES: '2' },
    wrapActivities: failing('normalizePayload'),
  },
  // Each event stands alone: one breaks the depth rule, the other four are processed.
  {
    name: 'with-failures',
    outcome: 'success',
    batch: [{ i: 0 }, { i: 1 }, nested(11), { i: 3 }, { i: 4 }],
  },
  {
    name: 'continued-as-new',
    outcome: 'success',
    // 20 chunks: enough to pass 100 history events with one step per chunk.
    batch: Array.from({ length: 40 }, (_, i) => ({ i })),
    env: { BATCH_CHUNK_MAX_EVENTS: '2', BATCH_HISTORY_EVENT_LIMIT: '100' },
    continuedFrom: true,
  },
  {
    name: 'batch-retries-exhausted',
    outcome: 'failed',
    batch: [{ i: 0 }, { i: 1 }],
    env: { EVENT_MAX_RETRIES: '1' },
    wrapActivities: failing('persistBatch'),
  },
  {
    name: 'batch-timed-out',
    outcome: 'failed',
    batch: [{ i: 0 }, { i: 1 }],
    env: { EVENT_PROCESSING_TIMEOUT: '1', EVENT_ACTIVITY_TIMEOUT: '5' },
    wrapActivities: (a) => ({
      ...a,
      normalizeBatchChunk: (...args: Parameters<Activities['normalizeBatchChunk']>) =>
        delay(2500).then(() => a.normalizeBatchChunk(...args)),
    }),
  },
  {
    name: 'timed-out',
    outcome: 'failed',
    event: { page: '/slow' },
    env: { EVENT_PROCESSING_TIMEOUT: '1', EVENT_ACTIVITY_TIMEOUT: '5' },
    wrapActivities: (a) => ({
      ...a,
      validatePayload: (id: string) => delay(2500).then(() => a.validatePayload(id)),
    }),
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, only: { type: 'string' }, suffix: { type: 'string' } },
  });
  const only = values.only?.split(',').map((s) => s.trim());
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.name));
  if (scenarios.length === 0 || scenarios.length < (only?.length ?? 0)) {
    throw new Error(`--only takes some of ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const suffix = values.suffix ? `.${values.suffix}` : '';
  const out = path.resolve(values.out ?? path.join(ROOT, 'test', 'fixtures', 'histories'));
  await mkdir(out, { recursive: true });

  const stack = await startStack({ label: 'histories', log: (m) => console.log(m) });
  try {
    const { token } = await stack.createUser();
    for (const s of scenarios) {
      const env = { EVENT_RETRY_INITIAL_INTERVAL_MS: '100', EVENT_RETRY_MAX_INTERVAL_MS: '200' };
      await stack.restart({
        env: { ...env, TEMPORAL_TASK_QUEUE: `histories-${s.name}`, ...s.env },
        wrapActivities: s.wrapActivities,
      });
      const { workflow } = stack.temporal;
      const [route, body] = s.batch
        ? ['/api/v1/events/batch', { events: s.batch.map(event('click', 'interaction')) }]
        : [undefined, event('page_view', 'engagement')(s.event)];
      const posted = await stack.postEvent(token, body, route);
      // The API starts the workflow after answering.
      let handle = workflow.getHandle(posted.workflowId);
      const exists = () => handle.describe().then(Boolean, () => false);
      await waitFor(`workflow ${posted.workflowId} to exist`, exists, true);
      if (s.rerun) {
        await handle.result();
        handle = await workflow.start(processEventWorkflow, {
          workflowId: `${posted.workflowId}-rerun`,
          taskQueue: stack.config.temporal.taskQueue,
          args: [posted.eventId, stack.config.processing],
        });
      }
      const outcome = await handle.result().then(
        (r: { status: Scenario['outcome'] }) => r.status,
        (err: unknown) => (err instanceof WorkflowFailedError ? 'failed' : Promise.reject(err)),
      );
      if (outcome !== s.outcome) throw new Error(`${s.name} ended ${outcome}, not ${s.outcome}`);
      let history = await handle.fetchHistory();
      if (s.continuedFrom) {
        const previous =
          history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
        if (!previous) throw new Error(`${s.name} did not continue as new`);
        history = await workflow.getHandle(handle.workflowId, previous).fetchHistory();
      }
      const type = (s.batch ? processEventBatchWorkflow : processEventWorkflow).name;
      const file = path.join(out, `${type}.${s.name}${suffix}.json`);
      const json = JSON.parse(historyToJSON(history), anonymize) as unknown;
      await writeFile(file, JSON.stringify(json, null, 2) + '\n');
      console.log(`${s.name}: ${path.relative(ROOT, file)}`);
    }
  } finally {
    await stack.stop();
  }
}

/** This checkout's paths, as failure stack traces show them (a linked node_modules by its own). */
const MACHINE_PATHS = [
  [realpathSync(path.join(ROOT, 'node_modules')), './node_modules'],
  [ROOT, '.'],
] as const;

/**
 * Replaces worker identities and sticky task queues (both `pid@hostname...`) and machine paths;
 * none takes part in replay.
 */
function anonymize(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (key === 'identity') return 'histories-export';
  if (key === 'name' && /^\d+@/.test(value)) return 'histories-export-sticky';
  return MACHINE_PATHS.reduce((text, [from, to]) => text.split(from).join(to), value);
}

runMain(main);
