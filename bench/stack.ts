import { bundleWorkflows } from '../scripts/bundle-workflows';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { createScratchDatabase } from '../src/dev/scratch-database';
import { createOrm, type Orm } from '../src/db/orm';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { findFreePort } from '../src/dev/child-process';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server';
import { createUser } from '../src/users/user.service';
import { spawnNodeChild, type NodeChild } from './child-process';
import { BenchTimeoutError } from './errors';
import type { BenchOptions } from './options';

const READY_TIMEOUT_MS = 90_000;

/** Everything a measurement talks to: the service as deployed, and the bench's own clients. */
export interface Stack {
  runId: string;
  dir: string;
  apiOrigin: string;
  databaseUrl: string;
  temporalAddress: string;
  temporalPid: number;
  /** The service's task queue, and the one of the bench's own trivial workflow. */
  taskQueue: string;
  engineTaskQueue: string;
  /** The API, the worker, and the engine worker when measurement a runs. */
  children: NodeChild[];
  /** Rejects as soon as any child exits on its own. */
  failure: Promise<never>;
  temporal: Client;
  pg: Pool;
  /** The environment the API and worker run with (for the results file). */
  serviceEnv: Record<string, string>;
  /** A new user and its token: each round counts its own rows. */
  newUser(): Promise<{ id: string; token: string }>;
  stop(): Promise<void>;
}

/**
 * Starts a Temporal dev server on free ports, a fresh migrated database, the API and the worker
 * as separate processes (and the engine worker of measurement a), and waits until the API is
 * ready and the workers poll. Whatever started is stopped again if a later step fails.
 */
export async function startStack(
  opts: BenchOptions,
  withEngineWorker: boolean,
  log: (m: string) => void,
): Promise<Stack> {
  const runId = randomUUID().slice(0, 8);
  const dir = await mkdtemp(path.join(tmpdir(), 'event-ingestion-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };
  try {
    const executable = await ensureTemporalCli(log);
    // Built ahead of time, as a production image does, so the worker's memory is its own.
    const workflowBundle = path.join(dir, 'workflow-bundle.js');
    const [server, database] = await Promise.all([
      findFreePort().then((port) =>
        startTemporalDevServer({
          executable,
          port,
          dbFilename: opts.temporalDb === 'file' ? path.join(dir, 'temporal.db') : undefined,
          sqlitePragmas: opts.sqlitePragmas,
          logFile: path.join(dir, 'temporal.log'),
        }),
      ),
      createScratchDatabase(opts.databaseAdminUrl, opts.databaseName),
      bundleWorkflows(workflowBundle),
    ]);
    cleanups.push(() => server.stop());
    if (!opts.keepDatabase) cleanups.push(() => database.drop());
    const databaseUrl = database.url;

    const pg = new Pool({ connectionString: databaseUrl, max: 6 });
    cleanups.push(() => pg.end());
    const orm: Orm = await createOrm({ url: databaseUrl, poolMax: 1 });
    cleanups.push(() => orm.close(true));
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection });

    const apiPort = await findFreePort();
    const taskQueue = `bench-${runId}`;
    const engineTaskQueue = `bench-engine-${runId}`;
    const serviceEnv: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      API_HOST: '127.0.0.1',
      API_PORT: String(apiPort),
      WORKFLOW_BUNDLE_PATH: workflowBundle,
      ...opts.serviceEnv,
    };
    const nodeFlags = [...opts.nodeFlags];
    if (opts.cpuProfile)
      nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profiles')}`);

    const children: NodeChild[] = [];
    const spawn = (name: string, entry: string, env: Record<string, string>): NodeChild => {
      const child = spawnNodeChild(name, entry, {
        env,
        nodeFlags,
        logFile: path.join(dir, `${name.replace(/\s+/g, '-')}.log`),
      });
      children.push(child);
      cleanups.push(() => child.stop());
      return child;
    };
    spawn('api', 'src/server.ts', serviceEnv);
    spawn('worker', 'src/worker.ts', serviceEnv);
    if (withEngineWorker) {
      spawn('engine worker', 'bench/engine-worker.ts', {
        ...serviceEnv,
        TEMPORAL_TASK_QUEUE: engineTaskQueue,
      });
    }
    const failure = Promise.race(children.map((c) => c.unexpectedExit));
    failure.catch(() => undefined);

    const apiOrigin = `http://127.0.0.1:${apiPort}`;
    await Promise.race([
      Promise.all([
        waitForApi(apiOrigin),
        waitForPollers(temporal, taskQueue, true),
        withEngineWorker ? waitForPollers(temporal, engineTaskQueue, false) : undefined,
      ]),
      failure,
    ]);

    return {
      runId,
      dir,
      apiOrigin,
      databaseUrl,
      temporalAddress: server.address,
      temporalPid: server.pid,
      taskQueue,
      engineTaskQueue,
      children,
      failure,
      temporal,
      pg,
      serviceEnv,
      newUser: async () => {
        const user = await createUser(orm.em.fork(), `bench-${randomUUID()}@example.com`);
        return { id: user.id, token: user.token };
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function waitForApi(origin: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ready = await fetch(`${origin}/ready`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) return;
    await delay(200);
  }
  throw new BenchTimeoutError(
    `the API at ${origin} was not ready within ${READY_TIMEOUT_MS / 1000} s`,
  );
}

/** A worker is ready when the server sees it polling its task queue. */
async function waitForPollers(
  client: Client,
  taskQueue: string,
  activities: boolean,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const types = activities ? [1, 2] : [1]; // TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY
  while (Date.now() < deadline) {
    const counts = await Promise.all(
      types.map(async (taskQueueType) => {
        const res = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType,
        });
        return res.pollers?.length ?? 0;
      }),
    );
    if (counts.every((n) => n > 0)) return;
    await delay(250);
  }
  throw new BenchTimeoutError(
    `no worker polled task queue ${taskQueue} within ${READY_TIMEOUT_MS / 1000} s`,
  );
}
