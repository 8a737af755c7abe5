import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { bundleWorkflows } from '../scripts/bundle-workflows';
import { createOrm } from '../src/db/orm';
import {
  findFreePort,
  serviceBaseEnv,
  spawnEntryPoint,
  StackError,
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
    const spawn = (name: string, entry: string, extraEnv: Record<string, string> = {}): void => {
      const child = spawnEntryPoint(entry, {
        env: { ...env, ...extraEnv },
        nodeFlags,
        logFile: path.join(dir, `${name.replace(/\s+/g, '-')}.log`),
        tailLines: 80,
        stopSignals: [['SIGTERM', 15_000], ['SIGKILL']],
      });
      processes[name] = child.child.pid ?? -1;
      cleanups.push(() => child.stop());
      void child.exited.then(({ code, signal }) => {
        if (stopping) return;
        const how = signal ?? `code ${String(code)}`;
        fail(new StackError(`The ${name} exited (${how}) during the run.`, child.output()));
      });
    };
    spawn('api', 'src/server.ts');
    spawn('worker', 'src/worker.ts');
    if (opts.engineWorker) {
      spawn('engine worker', 'bench/engine-worker.ts', { TEMPORAL_TASK_QUEUE: engineTaskQueue });
    }

    processes['temporal dev server'] = server.pid;
    const apiOrigin = `http://127.0.0.1:${apiPort}`;
    const polled = (queue: string, kinds?: TaskQueueKind[]) => async () =>
      (await pollersOf(temporal.workflowService, temporal.options.namespace, queue, kinds)).every(
        (q) => q.pollers.length > 0,
      );
    // A worker is ready when the server sees it polling.
    await Promise.race([
      Promise.all([
        waitUntil(`the API at ${apiOrigin} was not ready`, async () => {
          const res = await fetch(`${apiOrigin}/ready`);
          return res.status === 200;
        }),
        waitUntil(`no worker polled ${taskQueue}`, polled(taskQueue)),
        opts.engineWorker &&
          waitUntil(`no worker polled ${engineTaskQueue}`, polled(engineTaskQueue, ['workflow'])),
      ]),
      failure,
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
      /** A new user and its token: each round counts its own rows. */
      newUser: async () => {
        const user = await createUser(orm.em.fork(), `bench-${randomUUID()}@example.com`);
        return { id: user.id, token: user.token };
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

async function waitUntil(problem: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new StackError(`${problem} within ${READY_TIMEOUT_MS / 1000} s`);
    }
    await delay(250);
  }
}
