import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { bundleWorkflows } from '../scripts/bundle-workflows';
import { createOrm } from '../src/db/orm';
import {
  describeExit,
  findFreePort,
  serviceBaseEnv,
  spawnEntryPoint,
  StackError,
  waitForHttp,
  waitUntilReady,
} from '../src/dev/child-process';
import { createScratchDatabase } from '../src/dev/scratch-database';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server';
import { pollersOf, type TaskQueueKind } from '../src/temporal/pollers';
import { createUser } from '../src/users/user.service';

const READY_TIMEOUT_MS = 90_000;

export interface StackOptions {
  /** Dropped and created afresh, and dropped again at the end. */
  databaseName: string;
  /** Extra environment for the API and worker, e.g. OUTBOX_MAX_IN_FLIGHT=200. */
  serviceEnv?: Record<string, string>;
  /** Also run the worker of the bench's trivial workflow (measurement a). */
  engineWorker?: boolean;
  /** Write CPU profiles of every Node process to `<dir>/profiles`. */
  cpuProfile?: boolean;
}

/** Everything a runner talks to: the service as deployed, and the runner's own clients. */
export type Stack = Awaited<ReturnType<typeof startStack>>;

/** The API and worker as separate processes, as in production; stops what started if a step fails. */
export async function startStack(opts: StackOptions, log: (m: string) => void) {
  const runId = randomUUID().slice(0, 8);
  const dir = await mkdtemp(path.join(tmpdir(), 'event-ingestion-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };
  try {
    const temporalCli = await ensureTemporalCli(log);
    // Built ahead of time, as a production image does, so the worker's memory is its own.
    const workflowBundle = path.join(dir, 'workflow-bundle.js');
    const [server, database] = await Promise.all([
      findFreePort().then((port) =>
        startTemporalDevServer({
          executable: temporalCli,
          port,
          logFile: path.join(dir, 'temporal.log'),
        }),
      ),
      createScratchDatabase(opts.databaseName),
      bundleWorkflows(workflowBundle),
    ]);
    cleanups.push(
      () => server.stop(),
      () => database.drop(),
    );
    const pg = new Pool({ connectionString: database.url, max: 6 });
    cleanups.push(() => pg.end());
    const orm = await createOrm({ url: database.url, poolMax: 1 });
    cleanups.push(() => orm.close(true));
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection });

    const apiPort = await findFreePort();
    const taskQueue = `bench-${runId}`;
    const engineTaskQueue = `bench-engine-${runId}`;
    const env = {
      ...serviceBaseEnv(),
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      WORKFLOW_BUNDLE_PATH: workflowBundle,
      ...opts.serviceEnv,
    };
    const nodeFlags = opts.cpuProfile
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profiles')}`]
      : [];

    const processes: Record<string, number> = {};
    let fail!: (err: Error) => void;
    const failure = new Promise<never>((_, reject) => (fail = reject));
    // Callers race against it; an unobserved rejection must not crash the runner on its own.
    failure.catch(() => undefined);
    const spawn = (name: string, entry: string, extraEnv: Record<string, string> = {}) => {
      const child = spawnEntryPoint(entry, {
        env: { ...env, ...extraEnv },
        // As `npm start` and the image run them: plain JavaScript, no TypeScript compiler.
        compiled: true,
        nodeFlags,
        logFile: path.join(dir, `${name.replace(/\s+/g, '-')}.log`),
        tailLines: 80,
        stopSignals: [['SIGTERM', 15_000], ['SIGKILL']],
      });
      processes[name] = child.child.pid ?? -1;
      cleanups.push(() => child.stop());
      void child.exited.then((exit) => {
        if (stopping) return;
        fail(new StackError(`The ${name} ${describeExit(exit)} during the run.`, child.output()));
      });
      return child;
    };
    const api = spawn('api', 'src/server.ts');
    const worker = spawn('worker', 'src/worker.ts');
    const engineWorker =
      opts.engineWorker &&
      spawn('engine worker', 'bench/engine-worker.ts', { TEMPORAL_TASK_QUEUE: engineTaskQueue });

    processes['temporal dev server'] = server.pid;
    const apiOrigin = `http://127.0.0.1:${apiPort}`;
    // A worker is ready when the server sees it polling.
    const polls = (queue: string, kinds?: TaskQueueKind[]) => async () => {
      const queues = await pollersOf(
        temporal.workflowService,
        temporal.options.namespace,
        queue,
        kinds,
      );
      if (queues.some((q) => q.pollers.length === 0)) throw new Error(`nothing polls ${queue} yet`);
    };
    const timeoutMs = READY_TIMEOUT_MS;
    await Promise.all([
      waitForHttp(api, 'The API', `${apiOrigin}/ready`, timeoutMs),
      waitUntilReady(worker, 'The worker', polls(taskQueue), { timeoutMs }),
      engineWorker &&
        waitUntilReady(engineWorker, 'The engine worker', polls(engineTaskQueue, ['workflow']), {
          timeoutMs,
        }),
    ]);

    return {
      runId,
      /** Logs, the workflow bundle and CPU profiles of this run. */
      dir,
      apiOrigin,
      temporalCli,
      taskQueue,
      engineTaskQueue,
      /** Pid of each process by name: api, worker, engine worker, temporal dev server. */
      processes,
      /** Rejects as soon as any process exits on its own. */
      failure,
      temporal,
      pg,
      /**
       * Holds the worker process still (SIGSTOP) and lets it go on (SIGCONT): the API then only
       * accepts, and Temporal keeps what it is handed until the worker resumes.
       */
      worker: {
        pause: () => void worker.child.kill('SIGSTOP'),
        resume: () => void worker.child.kill('SIGCONT'),
      },
      /** A new user with its API token and write key: each round counts its own rows. */
      newUser: async () => {
        const user = await createUser(orm.em.fork(), `bench-${randomUUID()}@example.com`);
        return { id: user.id, token: user.token, writeKey: user.write_key };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `--env K=V` items of a runner's command line, as the service's environment. */
export function parseEnv(items: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--env takes KEY=VALUE, got ${item}`);
    env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}
