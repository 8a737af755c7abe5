import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import type { createActivities } from '../../activities';
import { createApp } from '../../src/app';
import { startConfiguredOutbox } from '../../src/events/outbox';
import { loadConfig, type Config } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { createOrm, type Orm } from '../../src/db/orm';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { findFreePort } from '../../src/dev/child-process';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { createLogger } from '../../src/logger';
import { createTemporalClient } from '../../src/temporal/client';
import { connectionOptions } from '../../src/temporal/connection-options';
import { createUser } from '../../src/users/user.service';
import { createEventWorker } from '../../src/worker/create-worker';
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
  const [server, databaseUrl] = await Promise.all([
    (async () =>
      startTemporalDevServer({
        executable: temporalCli,
        port: await findFreePort(),
        uiPort: opts.withUi ? await findFreePort() : undefined,
      }))(),
    createDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_URL, `ops_${suffix}`),
  ]);
  cleanups.push(() => server.stop());
  cleanups.push(() =>
    dropDatabase(process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_URL, databaseUrl),
  );
  await runMigrations(databaseUrl);

  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: `ops-${suffix}`,
    SHUTDOWN_GRACE_MS: '2000',
    ...opts.env,
  });
  const orm = await createOrm(config.database);
  cleanups.push(() => orm.close(true));

  opts.log('bundling the workflows and starting a worker');
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  cleanups.push(() => connection.close());
  const worker: Worker = await createEventWorker({
    config,
    orm,
    logger,
    connection,
    wrapActivities: opts.wrapActivities,
  });
  const workerRun = worker.run();
  cleanups.push(async () => {
    worker.shutdown();
    await workerRun;
  });

  const temporal = createTemporalClient(config.temporal);
  cleanups.push(() => temporal.connection.close());
  const outbox = startConfiguredOutbox({ config, orm, temporal, logger });
  cleanups.push(() => outbox.stop());
  const app = createApp({ config, orm, temporal, logger, outbox });
  const api = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        api.close(() => resolve());
        api.closeAllConnections();
      }),
  );

  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  return {
    config,
    orm,
    temporal,
    temporalCli,
    temporalAddress: server.address,
    uiUrl: server.uiUrl,
    databaseUrl,
    apiUrl,
    workerIdentity: worker.options.identity,
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

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await withAdmin(adminUrl, (pg) => pg.query(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  await withAdmin(adminUrl, (pg) => pg.query(`drop database if exists "${name}" with (force)`));
}

async function withAdmin(adminUrl: string, run: (pg: PgClient) => Promise<unknown>): Promise<void> {
  const pg = new PgClient({ connectionString: adminUrl });
  await pg.connect();
  try {
    await run(pg);
  } finally {
    await pg.end();
  }
}
