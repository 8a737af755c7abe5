import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Pool } from 'pg';
import { bundleWorkflows } from '../../scripts/bundle-workflows';
import { createOrm } from '../../src/db/orm';
import { errorMessage, findFreePort } from '../../src/dev/child-process';
import { runMain } from '../../src/run-main';
import { createUser } from '../../src/users/user.service';
import { check, countWorkflows, installAuditTrigger, waitForQuiescence } from './check';
import { FaultyNetwork, injectFaults } from './faults';
import { runLoad, type LoadUser } from './load';
import { planFromArgs, USAGE, type RunPlan } from './plan';
import { buildFigures, report } from './report';
import {
  apiReadiness,
  NAMESPACE,
  ServiceProcess,
  startPostgres,
  startTemporal,
  workerReadiness,
} from './stack';
import { say, sleep } from './support';

const ROOT = path.resolve(__dirname, '../..');
const DATA_DIR = path.join(ROOT, '.data', 'faults');
const USERS = 3;
/** Run directories kept for post-mortems (each holds a Temporal state file and logs). */
const RUNS_KEPT = 5;
/** After quiescence, how long to watch for writes that should no longer happen. */
const SETTLE_MS = 5_000;

/**
 * `npm run test:faults`: runs the service as in production against its own Temporal and
 * PostgreSQL, sends thousands of events while killing and cutting its parts, then checks that
 * every accepted event is stored once, finished, and processed once. Exits 1 when a promise was
 * broken.
 */
async function main(argv: string[]): Promise<number> {
  let plan: RunPlan;
  try {
    plan = planFromArgs(argv);
  } catch (err) {
    console.error(`${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  const startedAt = new Date();
  const runId = `faults-${startedAt.toISOString().replace(/[:.]/g, '-')}`;
  const runDir = path.join(DATA_DIR, 'runs', runId);
  await pruneRuns(path.join(DATA_DIR, 'runs'));
  await mkdir(runDir, { recursive: true });
  say(
    `${plan.mode} run, seed ${plan.seed}: ${plan.targetEvents} events, ${plan.faults.length} faults; files in ${path.relative(ROOT, runDir)}`,
  );

  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const step of cleanup.reverse())
      await step().catch((err: unknown) => say(`cleanup: ${errorMessage(err)}`));
    cleanup.length = 0;
  };
  process.once('SIGINT', () => {
    say('interrupted; stopping everything');
    void stopAll().then(() => process.exit(130));
  });

  try {
    // Built ahead of time, as the image does: a restarted worker polls within seconds.
    const workflowBundle = path.join(runDir, 'workflow-bundle.js');
    const [postgres, temporal] = await Promise.all([
      startPostgres(path.join(DATA_DIR, 'postgres')),
      startTemporal(path.join(runDir, 'temporal.db'), path.join(runDir, 'temporal.log')),
      bundleWorkflows(workflowBundle),
    ]);
    cleanup.push(postgres.down, () => temporal.down('SIGTERM'));
    const network = new FaultyNetwork({ host: '127.0.0.1', port: postgres.port });
    const proxyPort = await network.listen();
    cleanup.push(async () => void network.cut());
    say(
      `PostgreSQL on ${postgres.port} (service reaches it through ${proxyPort}), Temporal on ${temporal.address}`,
    );

    const db = new Pool({ connectionString: postgres.url(), max: 3 });
    db.on('error', () => undefined);
    cleanup.push(() => db.end());
    await installAuditTrigger(db);
    const orm = await createOrm({ url: postgres.url(), poolMax: 1 });
    const users: LoadUser[] = [];
    for (let i = 0; i < USERS; i++) {
      users.push(await createUser(orm.em.fork(), `faults-${randomUUID()}@example.com`));
    }
    await orm.close(true);

    const serviceEnv = {
      ...serviceEnvironment(postgres.url(proxyPort), temporal.address, runId),
      WORKFLOW_BUNDLE_PATH: workflowBundle,
    };
    const apiUrls = await Promise.all(
      Array.from(
        { length: plan.processes.apis },
        async () => `http://127.0.0.1:${await findFreePort()}`,
      ),
    );
    // With several of a kind, each has a number: "API 2", api-2.log.
    const name = (kind: string, i: number, count: number) =>
      count > 1 ? `${kind} ${i + 1}` : kind;
    const apis = apiUrls.map((url, i) => {
      const api = name('API', i, apiUrls.length);
      const env = { ...serviceEnv, API_PORT: new URL(url).port };
      return new ServiceProcess(api, 'src/server.ts', env, runDir, apiReadiness(url));
    });
    const workers = Array.from({ length: plan.processes.workers }, (_, i) => {
      const worker = name('worker', i, plan.processes.workers);
      const ready = workerReadiness(temporal.address, runId);
      return new ServiceProcess(worker, 'src/worker.ts', serviceEnv, runDir, ready);
    });
    cleanup.push(...[...apis, ...workers].map((p) => () => p.stop()));
    await Promise.all([...apis, ...workers].map((p) => p.start()));
    const pids = (all: ServiceProcess[]) => all.map((p) => p.pid).join(', ');
    say(`API (pid ${pids(apis)}) and worker (pid ${pids(workers)}) ready`);

    let faultsDone = false;
    const [faults, ledger] = await Promise.all([
      injectFaults(plan, { apis, workers, temporal, postgres, network, db }).finally(
        () => (faultsDone = true),
      ),
      runLoad(plan, { runDir, runId, baseUrls: apiUrls, users, faultsDone: () => faultsDone }),
    ]);

    const quiet = await waitForQuiescence(db, plan.quiescenceSeconds);
    await sleep(SETTLE_MS);
    const findings = await check(db, ledger, temporal.address, quiet.quietAt);
    const figures = buildFigures({
      plan,
      command: ['npm run test:faults', ...(argv.length ? ['--', ...argv] : [])].join(' '),
      startedAt,
      serviceEnv: {
        ...serviceEnv,
        DATABASE_URL: serviceEnv.DATABASE_URL.replace(/:[^:@/]+@/, ':***@'),
      },
      client: ledger.client,
      findings,
      faults,
      processes: { api: apis.map((p) => p.figures), worker: workers.map((p) => p.figures) },
      quiescence: {
        waitedSeconds: quiet.waitedSeconds,
        unfinished: quiet.unfinished,
        openWorkflows: await countWorkflows(temporal.address, 'ExecutionStatus = "Running"'),
        continuedAsNew: await countWorkflows(
          temporal.address,
          'ExecutionStatus = "ContinuedAsNew"',
        ),
      },
    });
    await stopAll();
    await report(figures, DATA_DIR, runDir);
    return figures.verdict.passed ? 0 : 1;
  } finally {
    await stopAll();
  }
}

/**
 * Retries ride out about 55 s of failures per activity, so that an outage of a few seconds never
 * makes a valid event `failed`. Activities do not heartbeat: a short timeout retries a killed
 * worker's sooner. The processing budget counts time queued, and a backlog after worker kills on
 * 2 shared cores can exceed the default 300 s.
 */
function serviceEnvironment(databaseUrl: string, temporalAddress: string, taskQueue: string) {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: taskQueue,
    API_HOST: '127.0.0.1',
    API_PORT: '0',
    EVENT_MAX_RETRIES: '30',
    EVENT_RETRY_INITIAL_INTERVAL_MS: '100',
    EVENT_RETRY_MAX_INTERVAL_MS: '2000',
    EVENT_ACTIVITY_TIMEOUT: '15',
    EVENT_PROCESSING_TIMEOUT: '1800',
    // Small chunks and a short history make the suite's batches (25-75 events) take the paths
    // big ones take in production: 4 to 11 chunks, and continue-as-new past about 55 events.
    BATCH_CHUNK_MAX_EVENTS: '7',
    BATCH_HISTORY_EVENT_LIMIT: '100',
    // Runs the faults terminate leave their events queued or processing: the sweeper looks at
    // events unchanged for 15 s, so they get a new run well within the wait for quiescence.
    RUN_SWEEP_INTERVAL_MS: '2000',
    RUN_SWEEP_STALE_MS: '15000',
    SHUTDOWN_GRACE_MS: '5000',
    // The worker's metrics endpoints default to fixed ports other runs may hold.
    WORKER_METRICS_PORT: '0',
    TEMPORAL_SDK_METRICS_PORT: '0',
  };
}

/** Deletes all but the newest RUNS_KEPT - 1 run directories, making room for this one. */
async function pruneRuns(runsDir: string): Promise<void> {
  const runs = (await readdir(runsDir).catch(() => [])).sort();
  for (const old of runs.slice(0, 1 - RUNS_KEPT))
    await rm(path.join(runsDir, old), { recursive: true });
}

runMain(() => main(process.argv.slice(2)));
