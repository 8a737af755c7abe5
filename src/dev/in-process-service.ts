import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NativeConnection, type Worker, type WorkerOptions } from '@temporalio/worker';
import type { createActivities } from '../../activities';
import { startApi } from '../api';
import type { Config } from '../config';
import { createOrm } from '../db/orm';
import { listen } from '../http/listen';
import type { Logger } from '../logger';
import { createTemporalClient } from '../temporal/client';
import { connectionOptions } from '../temporal/connection-options';
import type { Tracing } from '../tracing';
import { createEventWorker } from '../worker/create-worker';
import type { WorkerMetrics } from '../worker/worker-metrics';

type Activities = ReturnType<typeof createActivities>;

export interface InProcessServiceOptions {
  config: Config;
  logger: Logger;
  /** The worker's settings; `false` starts none, so workflows stay queued. */
  worker:
    | false
    | {
        workflowBundle?: WorkerOptions['workflowBundle'];
        /** Fault injection around the real activities. */
        wrapActivities?: (a: Activities) => Activities;
        metrics?: WorkerMetrics;
      };
  /** Where the API's Temporal client connects, when not the configured address. */
  apiTemporalAddress?: string;
  tracing?: Tracing;
}

/** API, outbox and worker of the real service, running in this process. */
export type InProcessService = Awaited<ReturnType<typeof startInProcessService>>;

/**
 * Starts the service as `src/server.ts` and `src/worker.ts` would, in this process and against
 * the configured PostgreSQL and Temporal: for tests and for tools that drive a real service.
 * Whatever started is stopped again if a later part fails.
 */
export async function startInProcessService(opts: InProcessServiceOptions) {
  const { config, logger } = opts;
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse().splice(0)) await step();
  };
  try {
    const orm = await createOrm(config.database);
    stops.push(() => orm.close(true));
    const connection = await NativeConnection.connect(connectionOptions(config.temporal));
    stops.push(() => connection.close());
    let worker: Worker | undefined;
    if (opts.worker) {
      const running = await createEventWorker({
        config,
        orm,
        logger,
        connection,
        ...opts.worker,
        tracing: opts.tracing,
      });
      const run = running.run();
      worker = running;
      stops.push(async () => {
        running.shutdown();
        await run;
      });
    }
    const temporal = createTemporalClient(
      { ...config.temporal, address: opts.apiTemporalAddress ?? config.temporal.address },
      { tracing: opts.tracing !== undefined },
    );
    stops.push(() => temporal.connection.close());
    const api = startApi({ config, orm, temporal, logger, tracer: opts.tracing?.tracer });
    stops.push(() => api.stop());
    const { app, outbox, grouper, sweeper } = api;
    const server: Server = await listen(app, 0, '127.0.0.1');
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;
    return {
      orm,
      temporal,
      connection,
      worker,
      outbox,
      grouper,
      sweeper,
      app,
      /** `http://127.0.0.1:<port>` of the API, on a port of its own. */
      baseUrl: `http://127.0.0.1:${port}`,
      /** Stops everything it started, API first, in the order the service itself stops. */
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
