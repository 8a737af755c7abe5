import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { createActivities } from '../../activities';
import { loadConfig, type Config } from '../../src/config';
import type { Orm } from '../../src/db/orm';
import { findFreePort } from '../../src/dev/child-process';
import { startInProcessService } from '../../src/dev/in-process-service';
import { createScratchDatabase } from '../../src/dev/scratch-database';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { createLogger } from '../../src/logger';
import { createUser } from '../../src/users/user.service';
import { installTemporalRuntime } from '../../src/worker/runtime';

type Activities = ReturnType<typeof createActivities>;

/** Where a database can be created, as for the test suite. */
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface LiveStackOptions {
  /** Short label for the throwaway database and task queue, e.g. `runbook`. */
  label: string;
  /** Also serve the Temporal Web UI, on a free port. */
  withUi?: boolean;
  /** Service configuration overrides, as the service would read them from the environment. */
  env?: Record<string, string>;
  /** Fault injection around the real activities. */
  wrapActivities?: (a: Activities) => Activities;
  /** Progress messages for a human. */
  log: (msg: string) => void;
}

/** The ids `POST /api/v1/events` answers with. */
export interface AcceptedEvent {
  eventId: string;
  workflowId: string;
}

/** A running throwaway copy of the service; `stop()` removes every part of it. */
export interface LiveStack {
  config: Config;
  orm: Orm;
  /** Temporal client on the stack's namespace. */
  temporal: Client;
  temporalCli: string;
  temporalAddress: string;
  uiUrl?: string;
  databaseUrl: string;
  apiUrl: string;
  /** Identity of the worker's pollers, as `temporal task-queue describe` shows it. */
  workerIdentity: string;
  /** A new user; returns its id and bearer token. */
  createUser(): Promise<{ id: string; token: string }>;
  /** `POST /api/v1/events` as `token`; throws unless the API accepts the event (202). */
  postEvent(token: string, body: Record<string, unknown>): Promise<AcceptedEvent>;
  stop(): Promise<void>;
}

/**
 * Starts the real service against throwaway infrastructure: a Temporal dev server on free ports,
 * a new PostgreSQL database (created through TEST_DATABASE_ADMIN_URL, default
 * `postgres://postgres@127.0.0.1:5432/postgres`) with the migrations applied, a worker running
 * the real workflows and activities, and the API on a free port. Whatever started is stopped
 * again if a later step fails.
 */
export async function startLiveStack(opts: LiveStackOptions): Promise<LiveStack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse().splice(0)) {
      await cleanup().catch((err: unknown) => opts.log(`clean-up failed: ${String(err)}`));
    }
  };
  try {
    return await start(opts, cleanups, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function start(
  opts: LiveStackOptions,
  cleanups: (() => Promise<unknown>)[],
  stop: () => Promise<void>,
): Promise<LiveStack> {
  const suffix = `${opts.label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const logger = createLogger(process.env.LOG_LEVEL ?? 'error', { process: opts.label });
  installTemporalRuntime(logger);

  const temporalCli = await ensureTemporalCli(opts.log);
  opts.log('starting a Temporal dev server and a fresh database');
  const [server, database] = await Promise.all([
    (async () =>
      startTemporalDevServer({
        executable: temporalCli,
        port: await findFreePort(),
        uiPort: opts.withUi ? await findFreePort() : undefined,
      }))(),
    createScratchDatabase(
      process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_URL,
      `ops_${suffix}`,
    ),
  ]);
  cleanups.push(() => server.stop());
  cleanups.push(() => database.drop());
  const databaseUrl = database.url;

  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: `ops-${suffix}`,
    SHUTDOWN_GRACE_MS: '2000',
    ...opts.env,
  });
  opts.log('bundling the workflows and starting a worker');
  const service = await startInProcessService({
    config,
    logger,
    worker: { wrapActivities: opts.wrapActivities },
  });
  cleanups.push(() => service.stop());
  const { orm, temporal, worker } = service;

  const apiUrl = service.baseUrl;
  return {
    config,
    orm,
    temporal,
    temporalCli,
    temporalAddress: server.address,
    uiUrl: server.uiUrl,
    databaseUrl,
    apiUrl,
    workerIdentity: worker!.options.identity,
    createUser: async () => {
      const { id, token } = await createUser(
        orm.em.fork(),
        `ops-${randomBytes(6).toString('hex')}@example.com`,
      );
      return { id, token };
    },
    postEvent: (token, body) => postEvent(apiUrl, token, body),
    stop,
  };
}

async function postEvent(
  apiUrl: string,
  token: string,
  body: Record<string, unknown>,
): Promise<AcceptedEvent> {
  const res = await fetch(`${apiUrl}/api/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { event_id?: string; workflow_id?: string };
  if (res.status !== 202 || !answer.event_id || !answer.workflow_id) {
    throw new Error(`POST /api/v1/events answered ${res.status}: ${JSON.stringify(answer)}`);
  }
  return { eventId: answer.event_id, workflowId: answer.workflow_id };
}
