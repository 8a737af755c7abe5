/**
 * `npm run histories:export`: records a real history of each outcome of the workflows, as the
 * JSON fixtures `test/workflows/replay.test.ts` replays against the current workflow code.
 *
 * Every scenario runs the real workflow and the real activities (faults injected where the
 * scenario needs them) on a Temporal dev server of its own, on a free port, and a scratch
 * PostgreSQL database created through TEST_DATABASE_ADMIN_URL as the tests do, dropped after.
 *
 *   npm run histories:export                          every scenario
 *   npm run histories:export -- --only processed      some (comma-separated names)
 *   npm run histories:export -- --suffix v2           writes <type>.<scenario>.v2.json
 *   npm run histories:export -- --out some/dir        elsewhere than test/fixtures/histories
 *
 * Read docs/workflow-changes.md before replacing fixtures: an old history is what proves that
 * workflows still running on the old code can go on after a deploy.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import type { createActivities } from '../activities';
import { loadConfig, type Config } from '../src/config';
import { createOrm, type Orm } from '../src/db/orm';
import { createScratchDatabase } from '../src/dev/scratch-database';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { findFreePort } from '../src/dev/child-process';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server';
import { createEventService, type EventService } from '../src/events/event.service';
import { createLogger, type Logger } from '../src/logger';
import { createEventWorkflowStarter, eventWorkflowId } from '../src/temporal/event-workflows';
import { UserSchema } from '../src/users/user.entity';
import { createUser } from '../src/users/user.service';
import { createEventWorker } from '../src/worker/create-worker';
import { installTemporalRuntime } from '../src/worker/runtime';
import { processEventWorkflow } from '../workflows';

type Activities = ReturnType<typeof createActivities>;

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_OUT = path.join(ROOT, 'test', 'fixtures', 'histories');
/** Stands in for `pid@hostname` in the identities the history records. */
const IDENTITY = 'histories-export';

/** What a scenario's run ends with: the workflow's result status, or a failed run. */
type Outcome = 'success' | 'validation_error' | 'failed';

interface ScenarioContext {
  config: Config;
  orm: Orm;
  client: Client;
  events: EventService;
  /** Waits for what an `events` call accepted to have its workflow started. */
  started<T>(accepted: Promise<T>): Promise<T>;
  userId: string;
}

interface Scenario {
  /** Names the fixture: `<workflow type>.<name>.json`. */
  name: string;
  workflowType: string;
  /** How the run must end; anything else means the scenario no longer does what it says. */
  outcome: Outcome;
  /** Settings of this scenario's worker and starter, as the service reads them. */
  env?: Record<string, string>;
  wrapActivities?: (a: Activities) => Activities;
  /** Starts the workflow whose history is recorded. */
  start(ctx: ScenarioContext): Promise<WorkflowHandle>;
  /** Which run to record: the last (default), or the one the last continued from. */
  run?: 'last' | 'continued-from';
}

/** Accepts one event through the real service code and returns its workflow's handle. */
async function acceptEvent(ctx: ScenarioContext, payload: Record<string, unknown>) {
  const em = ctx.orm.em.fork();
  const user = await em.findOneOrFail(UserSchema, { id: ctx.userId });
  const accepted = await ctx.started(
    ctx.events.accept(em, user, { event_name: 'page_view', event_type: 'engagement', payload }),
  );
  return ctx.client.workflow.getHandle(accepted.event.workflow_id);
}

/** Accepts a batch through the real service code and returns its workflow's handle. */
async function acceptBatch(ctx: ScenarioContext, payloads: Record<string, unknown>[]) {
  const em = ctx.orm.em.fork();
  const user = await em.findOneOrFail(UserSchema, { id: ctx.userId });
  const { batch } = await ctx.started(
    ctx.events.acceptBatch(em, user, {
      events: payloads.map((payload) => ({
        event_name: 'click',
        event_type: 'interaction',
        payload,
      })),
    }),
  );
  return ctx.client.workflow.getHandle(batch.workflow_id!);
}

function nested(levels: number): Record<string, unknown> {
  let payload: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < levels; i++) payload = { k: payload };
  return payload;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'processed',
    workflowType: 'processEventWorkflow',
    outcome: 'success',
    start: (ctx) => acceptEvent(ctx, { page: '/home', duration: 45 }),
  },
  {
    name: 'processed-activity-tasks',
    workflowType: 'processEventWorkflow',
    outcome: 'success',
    env: { EVENT_LOCAL_ACTIVITIES: 'false' },
    start: (ctx) => acceptEvent(ctx, { page: '/home', duration: 45 }),
  },
  {
    name: 'validation-error',
    workflowType: 'processEventWorkflow',
    outcome: 'validation_error',
    // Accepted by the API (it allows 64 levels), refused by the payload rules (10).
    start: (ctx) => acceptEvent(ctx, nested(11)),
  },
  {
    name: 'already-processed',
    workflowType: 'processEventWorkflow',
    outcome: 'success',
    // A second run for an event an earlier run processed: it stops after fetchEvent.
    start: async (ctx) => {
      const first = await acceptEvent(ctx, { page: '/again' });
      await first.result();
      const eventId = first.workflowId.replace(/^event-/, '');
      return ctx.client.workflow.start(processEventWorkflow, {
        workflowId: `${eventWorkflowId(eventId)}-rerun`,
        taskQueue: ctx.config.temporal.taskQueue,
        args: [eventId, ctx.config.processing],
      });
    },
  },
  {
    name: 'retries-exhausted',
    workflowType: 'processEventWorkflow',
    outcome: 'failed',
    env: { EVENT_MAX_RETRIES: '2' },
    wrapActivities: (a) => ({
      ...a,
      normalizePayload: () => Promise.reject(new Error('could not connect to server')),
    }),
    start: (ctx) => acceptEvent(ctx, { page: '/down' }),
  },
  {
    name: 'with-failures',
    workflowType: 'processEventBatchWorkflow',
    outcome: 'success',
    // Each event stands alone: one breaks the depth rule, the other four are processed.
    start: (ctx) => acceptBatch(ctx, [{ i: 0 }, { i: 1 }, nested(11), { i: 3 }, { i: 4 }]),
  },
  {
    name: 'continued-as-new',
    workflowType: 'processEventBatchWorkflow',
    outcome: 'success',
    env: { BATCH_CHUNK_MAX_EVENTS: '2', BATCH_HISTORY_EVENT_LIMIT: '100' },
    run: 'continued-from',
    // 20 chunks: enough to pass 100 history events with one step per chunk.
    start: (ctx) =>
      acceptBatch(
        ctx,
        Array.from({ length: 40 }, (_, i) => ({ i })),
      ),
  },
  {
    name: 'batch-retries-exhausted',
    workflowType: 'processEventBatchWorkflow',
    outcome: 'failed',
    env: { EVENT_MAX_RETRIES: '1' },
    wrapActivities: (a) => ({
      ...a,
      persistBatch: () => Promise.reject(new Error('could not connect to server')),
    }),
    start: (ctx) => acceptBatch(ctx, [{ i: 0 }, { i: 1 }]),
  },
  {
    name: 'timed-out',
    workflowType: 'processEventWorkflow',
    outcome: 'failed',
    env: { EVENT_PROCESSING_TIMEOUT: '1', EVENT_ACTIVITY_TIMEOUT: '5' },
    wrapActivities: (a) => ({
      ...a,
      validatePayload: async (id: string) => {
        await new Promise((r) => setTimeout(r, 2500));
        return a.validatePayload(id);
      },
    }),
    start: (ctx) => acceptEvent(ctx, { page: '/slow' }),
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: DEFAULT_OUT },
      only: { type: 'string' },
      suffix: { type: 'string' },
    },
  });
  const only = values.only?.split(',').map((s) => s.trim());
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.name));
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0 || scenarios.length === 0) {
    throw new Error(
      `unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  }
  const out = path.resolve(values.out);
  const suffix = values.suffix ? `.${values.suffix}` : '';

  const logger = createLogger('error', { process: 'histories-export' });
  installTemporalRuntime(logger);
  const scratch = await mkdtemp(path.join(tmpdir(), 'histories-export-'));
  const adminUrl =
    process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  console.log('starting a Temporal dev server and a scratch database; bundling the workflows');
  const [server, database, bundle] = await Promise.all([
    ensureTemporalCli((m) => console.log(m)).then(async (executable) =>
      startTemporalDevServer({
        executable,
        port: await findFreePort(),
        logFile: path.join(scratch, 'temporal.log'),
      }),
    ),
    createScratchDatabase(adminUrl, `event_ingestion_histories_${process.pid}`),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quiet(logger) }),
  ]);
  try {
    await mkdir(out, { recursive: true });
    for (const scenario of scenarios) {
      const file = path.join(out, `${scenario.workflowType}.${scenario.name}${suffix}.json`);
      const history = await record(scenario, {
        temporalAddress: server.address,
        databaseUrl: database.url,
        bundleCode: bundle.code,
        logger,
      });
      await writeFile(file, JSON.stringify(history, null, 2) + '\n');
      console.log(`${scenario.name}: ${path.relative(ROOT, file)}`);
    }
  } finally {
    await server.stop();
    await database.drop();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Runs one scenario on a task queue and worker of its own; returns its history as JSON. */
async function record(
  scenario: Scenario,
  env: { temporalAddress: string; databaseUrl: string; bundleCode: string; logger: Logger },
): Promise<unknown> {
  const config = loadConfig({
    LOG_LEVEL: 'error',
    DATABASE_URL: env.databaseUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_TASK_QUEUE: `histories-${scenario.name}`,
    EVENT_RETRY_INITIAL_INTERVAL_MS: '100',
    EVENT_RETRY_MAX_INTERVAL_MS: '200',
    SHUTDOWN_GRACE_MS: '1000',
    ...scenario.env,
  });
  const orm = await createOrm(config.database);
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, identity: IDENTITY });
  try {
    const worker = await createEventWorker({
      config,
      orm,
      logger: env.logger,
      connection: nativeConnection,
      workflowBundle: { code: env.bundleCode },
      wrapActivities: scenario.wrapActivities,
    });
    const starter = createEventWorkflowStarter(client, config);
    // Starts each workflow before `accept` returns, so the scenario can follow it at once.
    const starts: Promise<unknown>[] = [];
    const events = createEventService({
      outbox: {
        offer: (item) =>
          starts.push(item.kind === 'event' ? starter.startEvent(item) : starter.startBatch(item)),
        stats: () => ({ unstarted: 0, oldestAgeSec: 0, inFlight: 0, startRate: 0 }),
      },
      maxBacklog: 0,
      workflows: starter,
      logger: env.logger,
    });
    const started = async <T>(accepted: Promise<T>): Promise<T> => {
      const value = await accepted;
      await Promise.all(starts.splice(0));
      return value;
    };
    const { id: userId } = await createUser(orm.em.fork(), `histories-${randomUUID()}@example.com`);
    const ctx: ScenarioContext = { config, orm, client, events, started, userId };

    const handle = await worker.runUntil(async () => {
      const h = await scenario.start(ctx);
      const outcome = await h.result().then(
        (r: { status: Outcome }) => r.status,
        (err: unknown) => {
          if (err instanceof WorkflowFailedError) return 'failed' as const;
          throw err;
        },
      );
      if (outcome !== scenario.outcome) {
        throw new Error(`${scenario.name} ended ${outcome}, not ${scenario.outcome}`);
      }
      return h;
    });
    let history = await handle.fetchHistory();
    if (scenario.run === 'continued-from') {
      const previous =
        history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId;
      if (!previous) throw new Error(`${scenario.name} did not continue as new`);
      history = await client.workflow.getHandle(handle.workflowId, previous).fetchHistory();
    }
    return anonymize(JSON.parse(historyToJSON(history)) as unknown);
  } finally {
    await connection.close();
    await nativeConnection.close();
    await orm.close(true);
  }
}

/**
 * Replaces what names this machine: worker identities (`pid@hostname`) and the checkout's path
 * in failure stack traces. Neither takes part in replay.
 */
function anonymize(value: unknown, key?: string): unknown {
  if (typeof value === 'string') {
    if (key === 'identity') return IDENTITY;
    return value.split(ROOT).join('.');
  }
  if (Array.isArray(value)) return value.map((v) => anonymize(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, anonymize(v, k)]));
  }
  return value;
}

function quiet(logger: Logger) {
  return {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string, meta?: Record<string, unknown>) => logger.warn(meta ?? {}, message),
    error: (message: string, meta?: Record<string, unknown>) => logger.error(meta ?? {}, message),
  };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
