import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Pool } from 'pg';
import { runMigrations } from '../../src/db/migrate';
import { createOrm } from '../../src/db/orm';
import { findFreePort } from '../../src/dev/child-process';
import { createUser } from '../../src/users/user.service';
import { assertAuditTriggerSees, installAuditTrigger } from './audit-trigger';
import { check } from './checker';
import { say, sleep } from './clock';
import { createEventFactory } from './event-factory';
import { injectFaults, type FaultRecord } from './fault-injector';
import { probeIdempotency } from './idempotency-probe';
import { Ledger } from './ledger';
import { runLoad, type LoadUser } from './load-generator';
import { planFromArgs, UsageError } from './plan';
import { PostgresControl } from './postgres-control';
import { countWorkflows, waitForQuiescence } from './quiescence';
import { createRandom } from './random';
import { apiReadiness, workerReadiness } from './readiness';
import { buildFigures, formatTable, writeFigures } from './report';
import { ServiceProcess, type ProcessFigures } from './service-process';
import { FaultyNetwork } from './faulty-network';
import { TemporalControl } from './temporal-control';
import { workflowStates } from './workflow-census';

const ROOT = path.resolve(__dirname, '../..');
const DATA_DIR = path.join(ROOT, '.data', 'faults');
const NAMESPACE = 'default';
const USERS = 3;
/** Run directories kept for post-mortems (each holds a Temporal state file and logs). */
const RUNS_KEPT = 5;
/** After quiescence, how long to watch for writes that should no longer happen. */
const SETTLE_MS = 5_000;

/**
 * `npm run test:faults`: runs the service as in production (API and worker as child processes,
 * its own Temporal dev server and PostgreSQL), sends thousands of events through the HTTP API
 * while killing and cutting its parts, then checks in PostgreSQL that every accepted event is
 * there once, finished, and processed once. Exits 1 when a promise was broken.
 */
async function main(argv: string[]): Promise<number> {
  const plan = planFromArgs(argv);
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
      await step().catch((err: unknown) => say(`cleanup: ${String(err)}`));
    cleanup.length = 0;
  };
  process.once('SIGINT', () => {
    say('interrupted; stopping everything');
    void stopAll().then(() => process.exit(130));
  });

  try {
    const [postgres, temporal] = await Promise.all([
      PostgresControl.start({
        dataDir: path.join(DATA_DIR, 'postgres'),
        database: 'faults',
        log: () => undefined,
      }),
      TemporalControl.start({
        dbFilename: path.join(runDir, 'temporal.db'),
        logFile: path.join(runDir, 'temporal.log'),
        log: say,
      }),
    ]);
    cleanup.push(
      () => postgres.down(),
      () => temporal.down('SIGTERM'),
    );
    const network = new FaultyNetwork({ host: '127.0.0.1', port: postgres.port });
    const proxyPort = await network.listen();
    cleanup.push(() => network.close());
    say(
      `PostgreSQL on ${postgres.port} (service reaches it through ${proxyPort}), Temporal on ${temporal.address}`,
    );

    await runMigrations(postgres.url());
    const db = new Pool({ connectionString: postgres.url(), max: 3 });
    db.on('error', () => undefined);
    cleanup.push(() => db.end());
    await installAuditTrigger(db);
    await assertAuditTriggerSees(db);
    const users = await createUsers(postgres.url());

    const apiPorts: number[] = [];
    for (let i = 0; i < plan.processes.apis; i++) apiPorts.push(await findFreePort());
    const baseUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
    const baseUrl = baseUrls[0]!;
    const serviceEnvFor = (apiPort: number) => ({
      ...serviceEnvironment({
        databaseUrl: postgres.url(proxyPort),
        temporalAddress: temporal.address,
        taskQueue: runId,
        apiPort,
      }),
      ...plan.envOverrides,
    });
    const serviceEnv = serviceEnvFor(apiPorts[0]!);
    // With several of a kind, each gets its own log: api-1.log, worker-2.log.
    const logName = (kind: string, i: number, n: number) =>
      path.join(runDir, n > 1 ? `${kind}-${i + 1}.log` : `${kind}.log`);
    const apis = apiPorts.map(
      (port, i) =>
        new ServiceProcess(
          apiPorts.length > 1 ? `API ${i + 1}` : 'API',
          'src/server.ts',
          serviceEnvFor(port),
          logName('api', i, apiPorts.length),
          apiReadiness(baseUrls[i]!),
        ),
    );
    const workers = Array.from(
      { length: plan.processes.workers },
      (_, i) =>
        new ServiceProcess(
          plan.processes.workers > 1 ? `worker ${i + 1}` : 'worker',
          'src/worker.ts',
          serviceEnv,
          logName('worker', i, plan.processes.workers),
          workerReadiness({ address: temporal.address, namespace: NAMESPACE, taskQueue: runId }),
        ),
    );
    cleanup.push(
      ...apis.map((api) => () => api.stop()),
      ...workers.map((worker) => () => worker.stop()),
    );
    await Promise.all([...apis, ...workers].map((p) => p.start()));
    say(
      `API (pid ${apis.map((a) => a.pid).join(', ')}) and worker (pid ${workers.map((w) => w.pid).join(', ')}) ready`,
    );

    const random = createRandom(plan.seed);
    const ledger = new Ledger(path.join(runDir, 'accepted.ndjson'));
    const nextEvent = createEventFactory(random, runId);
    const idempotency = await probeIdempotency(baseUrl, users[0]!, ledger, nextEvent());
    say(`idempotency keys: ${idempotency.note}`);

    let faultsDone = false;
    const progress = setInterval(() => {
      const c = ledger.client;
      say(
        `load: ${c.eventsSent} events sent, ${ledger.seqById.size} accepted, ${c.retries} retries`,
      );
    }, 15_000);
    const [faults] = await Promise.all([
      injectFaults({
        kinds: plan.faults,
        spreadSeconds: plan.loadSeconds,
        targets: { apis, workers, temporal, postgres, network, db },
        random: createRandom(plan.seed + 1),
      }).finally(() => (faultsDone = true)),
      runLoad({
        baseUrls,
        users,
        targetEvents: plan.targetEvents,
        loadSeconds: plan.loadSeconds,
        clients: plan.clients,
        idempotencyKeys: idempotency.keys,
        random,
        ledger,
        nextEvent,
        faultsDone: () => faultsDone,
      }),
    ]).finally(() => clearInterval(progress));
    await ledger.close();
    say(
      `load done: ${ledger.client.eventsSent} events sent, ${ledger.seqById.size} ids accepted; waiting for quiescence`,
    );

    const quiet = await waitForQuiescence(db, plan.quiescenceSeconds);
    await sleep(SETTLE_MS);
    const findings = await check({
      db,
      ledger,
      quiescedAt: quiet.quietAt,
      workflowStates: (ids) => workflowStates(temporal.address, NAMESPACE, ids),
    });
    const count = (query: string) =>
      countWorkflows(temporal.address, NAMESPACE, query).catch(() => undefined);
    const openWorkflows = await count('ExecutionStatus = "Running"');
    const continuedAsNew = await count('ExecutionStatus = "ContinuedAsNew"');

    const figures = buildFigures({
      plan,
      command: ['npm run test:faults', ...(argv.length ? ['--', ...argv] : [])].join(' '),
      startedAt,
      idempotency: idempotency.note,
      serviceEnv: redact(serviceEnv),
      client: ledger.client,
      findings,
      faults,
      processes: {
        api: combinedFigures(apis.map((a) => a.figures)),
        worker: combinedFigures(workers.map((w) => w.figures)),
      },
      quiescence: {
        waitedSeconds: quiet.waitedSeconds,
        unfinished: quiet.unfinished,
        openWorkflows: openWorkflows ?? null,
        continuedAsNew: continuedAsNew ?? null,
      },
    });
    await stopAll();
    const file = await writeFigures(figures, DATA_DIR, runDir);
    process.stdout.write(formatTable(figures));
    process.stdout.write(
      `Figures: ${path.relative(ROOT, file)}; logs: ${path.relative(ROOT, runDir)}\n`,
    );
    logFaults(faults);
    return figures.verdict.passed ? 0 : 1;
  } finally {
    await stopAll();
  }
}

/**
 * The service's configuration. Retries are generous (EVENT_MAX_RETRIES=30, 100 ms doubling to
 * 2 s: about 55 s of failures ridden out per activity) so that an outage of a few seconds never
 * turns a valid event into `failed`. The price: a genuinely broken dependency takes a minute,
 * not seconds, to surface as failed events, and retries keep knocking on a recovering database.
 * A shorter activity timeout makes the activities a killed worker held retry sooner (they do
 * not heartbeat, so only the timeout tells Temporal the worker is gone). The processing budget
 * is raised from 300 s because it counts time spent queued: on a shared 2-core machine a backlog
 * after repeated worker kills can exceed 300 s, and the suite tests faults, not capacity.
 */
/** The figures of several processes of one kind, summed. */
function combinedFigures(all: ProcessFigures[]): ProcessFigures {
  return {
    starts: all.reduce((n, f) => n + f.starts, 0),
    kills: all.reduce((n, f) => n + f.kills, 0),
    unplannedExits: all.reduce((n, f) => n + f.unplannedExits, 0),
    exitReasons: all.flatMap((f) => f.exitReasons),
  };
}

function serviceEnvironment(o: {
  databaseUrl: string;
  temporalAddress: string;
  taskQueue: string;
  apiPort: number;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: o.databaseUrl,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    API_HOST: '127.0.0.1',
    API_PORT: String(o.apiPort),
    EVENT_MAX_RETRIES: '30',
    EVENT_RETRY_INITIAL_INTERVAL_MS: '100',
    EVENT_RETRY_MAX_INTERVAL_MS: '2000',
    EVENT_ACTIVITY_TIMEOUT: '15',
    EVENT_PROCESSING_TIMEOUT: '1800',
    // Small chunks and a short history make the suite's batches (25-75 events) take the paths
    // big ones take in production: 4 to 11 chunks, and continue-as-new past about 55 events.
    BATCH_CHUNK_MAX_EVENTS: '7',
    BATCH_HISTORY_EVENT_LIMIT: '100',
    SHUTDOWN_GRACE_MS: '5000',
    // The worker's metrics endpoints default to fixed ports other runs may hold.
    WORKER_METRICS_PORT: '0',
    TEMPORAL_SDK_METRICS_PORT: '0',
  };
}

async function createUsers(databaseUrl: string): Promise<LoadUser[]> {
  const orm = await createOrm({ url: databaseUrl, poolMax: 1 });
  try {
    const users: LoadUser[] = [];
    for (let i = 0; i < USERS; i++) {
      const { id, token } = await createUser(orm.em.fork(), `faults-${randomUUID()}@example.com`);
      users.push({ id, token });
    }
    return users;
  } finally {
    await orm.close(true);
  }
}

/** Deletes all but the newest RUNS_KEPT - 1 run directories, making room for this one. */
async function pruneRuns(runsDir: string): Promise<void> {
  const runs = (await readdir(runsDir).catch(() => []))
    .filter((d) => d.startsWith('faults-'))
    .sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - (RUNS_KEPT - 1)))) {
    await rm(path.join(runsDir, old), { recursive: true, force: true });
  }
}

function logFaults(faults: FaultRecord[]): void {
  for (const f of faults) {
    process.stdout.write(
      `  fault ${String(f.n).padStart(2)} at ${f.atSeconds.toFixed(1).padStart(6)} s  ${f.kind.padEnd(17)} ${f.error ? `ERROR ${f.error}` : f.detail}\n`,
    );
  }
}

function redact(env: Record<string, string>): Record<string, string> {
  return { ...env, DATABASE_URL: env.DATABASE_URL!.replace(/:[^:@/]+@/, ':***@') };
}

function usageOr(err: unknown): number {
  if (err instanceof UsageError) {
    (err.exitCode === 0 ? console.log : console.error)(err.message);
    return err.exitCode;
  }
  console.error(err);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(usageOr(err)),
);
