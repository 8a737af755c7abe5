import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { createActivities } from '../../activities';
import { loadConfig } from '../../src/config';
import { errorMessage, findFreePort } from '../../src/dev/child-process';
import { startInProcessService, type InProcessService } from '../../src/dev/in-process-service';
import { createScratchDatabase } from '../../src/dev/scratch-database';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { EventSchema } from '../../src/events/event.entity';
import { createLogger } from '../../src/logger';
import { createUser } from '../../src/users/user.service';
import { installTemporalRuntime } from '../../src/worker/runtime';
import { bundleWorkflows } from '../bundle-workflows';

export interface ServiceOptions {
  /** Service settings, as the service reads them from the environment. */
  env?: Record<string, string>;
  /** Fault injection around the real activities. */
  wrapActivities?: (a: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
}

/** An event the API accepted (for a batch, `eventId` is the batch's id). */
export type EventRef = { eventId: string; workflowId: string };

export type Stack = Awaited<ReturnType<typeof startStack>>;

/**
 * The real service (API, outbox, worker) in this process, on throwaway infrastructure: a Temporal
 * dev server on free ports and a migrated database made through TEST_DATABASE_ADMIN_URL, as for
 * the tests. `stop()` or Ctrl+C removes all of it, as does a failure while starting.
 */
export async function startStack(
  opts: ServiceOptions & { label: string; withUi?: boolean; log: (msg: string) => void },
) {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async (): Promise<void> => {
    process.removeListener('SIGINT', onSignal).removeListener('SIGTERM', onSignal);
    for (const cleanup of cleanups.reverse().splice(0)) {
      await cleanup().catch((err: unknown) => opts.log(`clean-up failed: ${errorMessage(err)}`));
    }
  };
  const onSignal = () => void stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const suffix = `${opts.label}_${process.pid}_${randomBytes(3).toString('hex')}`;
    const logger = createLogger(process.env.LOG_LEVEL ?? 'error', { process: opts.label });
    installTemporalRuntime(logger);
    const temporalCli = await ensureTemporalCli(opts.log);
    // Bundled once, so that a restart with other settings need not bundle again.
    const bundle = path.join(tmpdir(), `ops_${suffix}_workflows.js`);
    cleanups.push(() => rm(bundle, { force: true }));
    opts.log('starting a Temporal dev server and a fresh database; bundling the workflows');
    const [port, uiPort] = [await findFreePort(), opts.withUi ? await findFreePort() : undefined];
    const [server, database] = await Promise.all([
      startTemporalDevServer({ executable: temporalCli, port, uiPort }),
      createScratchDatabase(`ops_${suffix}`),
      bundleWorkflows(bundle),
    ]);
    cleanups.push(server.stop, database.drop);
    let service: InProcessService | undefined;
    cleanups.push(async () => service?.stop());
    const serve = async ({ env, wrapActivities }: ServiceOptions) => {
      await service?.stop();
      const config = loadConfig({
        NODE_ENV: 'production',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_TASK_QUEUE: `ops-${suffix}`,
        SHUTDOWN_GRACE_MS: '2000',
        ...env,
      });
      const worker = { workflowBundle: { codePath: bundle }, wrapActivities };
      service = await startInProcessService({ config, logger, worker });
      const { orm, temporal, baseUrl: apiUrl } = service;
      return { config, orm, temporal, apiUrl, workerIdentity: service.worker!.options.identity };
    };

    const stack = {
      temporalCli,
      temporalAddress: server.address,
      uiUrl: server.uiUrl,
      databaseUrl: database.url,
      ...(await serve(opts)),
      /** Replaces the service by one with other settings, on the same server and database. */
      restart: async (o: ServiceOptions): Promise<void> =>
        void Object.assign(stack, await serve(o)),
      createUser: () =>
        createUser(service!.orm.em.fork(), `ops-${randomBytes(6).toString('hex')}@example.com`),
      /** `POST /api/v1/events` (or `route`) as `token`; throws unless the API accepts it. */
      async postEvent(token: string, body: unknown, route = '/api/v1/events'): Promise<EventRef> {
        const res = await fetch(`${service!.baseUrl}${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const answer = (await res.json()) as Record<string, string | undefined>;
        const eventId = answer.event_id ?? answer.batch_id;
        if (res.status !== 202 || !eventId || !answer.workflow_id)
          throw new Error(`POST ${route} answered ${res.status}: ${JSON.stringify(answer)}`);
        return { eventId, workflowId: answer.workflow_id };
      },
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls `read` until it returns `wanted`, for up to a minute. */
export async function waitFor<T>(what: string, read: () => Promise<T>, wanted: T): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let last = await read(); last !== wanted; last = await read()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} (last: ${last})`);
    await delay(100);
  }
}

export const waitForStatus = (stack: Stack, { eventId }: EventRef, status: string) =>
  waitFor(
    `event ${eventId} to be ${status}`,
    async () => (await stack.orm.em.fork().findOne(EventSchema, { id: eventId }))?.status,
    status,
  );

export const waitForWorkflow = (stack: Stack, { workflowId }: EventRef, status: string) =>
  waitFor(
    `workflow ${workflowId} to be ${status}`,
    async () => (await stack.temporal.workflow.getHandle(workflowId).describe()).status.name,
    status,
  );

/** Temporal's visibility store, which list commands read, follows the runs by a moment. */
export const waitForCount = (stack: Stack, query: string, count: number) =>
  waitFor(
    `${count} executions matching ${query}`,
    async () => (await stack.temporal.workflow.count(query)).count,
    count,
  );
