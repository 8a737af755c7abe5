import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from './config';
import { createOrm } from './db/orm';
import { traceQueries } from './db/query-tracing';
import { createLogger } from './logger';
import { startTracing } from './tracing';
import {
  TemporalConnectError,
  connectOnce,
  connectionOptions,
  describeTemporalConnection,
} from './temporal/connection-options';
import { createEventWorker } from './worker/create-worker';
import { serveMetrics, type MetricsServer } from './worker/metrics-server';
import { installTemporalRuntime, socketAddress } from './worker/runtime';
import { createWorkerMetrics } from './worker/worker-metrics';
import { workerProbes } from './worker/worker-probes';

/**
 * Entry point of the worker process (`npm run start:worker`). The SDK stops polling on SIGINT
 * and SIGTERM and lets running activities finish within the grace time before `run()` returns.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { process: 'worker' });
  const { workerHost, workerPort, sdkHost, sdkPort, token, maxEventTypes, maxEventNames } =
    config.metrics;
  installTemporalRuntime(logger, {
    sdkMetricsAddress: sdkPort ? socketAddress(sdkHost, sdkPort) : undefined,
  });
  const metrics = createWorkerMetrics({ maxEventTypes, maxEventNames });
  const tracing = startTracing(config.tracing, 'worker');
  if (tracing) traceQueries(tracing.tracer);
  const orm = await createOrm(config.database);
  const connection = await connectOnce(config.temporal, () =>
    NativeConnection.connect(connectionOptions(config.temporal)),
  );
  const worker = await createEventWorker({
    config,
    orm,
    logger,
    connection,
    metrics,
    tracing,
  });
  let metricsServer: MetricsServer | undefined;
  if (workerPort) {
    metricsServer = await serveMetrics(metrics.registry, {
      host: workerHost,
      port: workerPort,
      token,
      logger,
      health: workerProbes(worker, orm, connection),
    });
  }
  logger.info(
    {
      task_queue: config.temporal.taskQueue,
      ...describeTemporalConnection(config.temporal),
      metrics: workerPort ? socketAddress(workerHost, workerPort) : 'off',
      sdk_metrics: sdkPort ? socketAddress(sdkHost, sdkPort) : 'off',
    },
    'worker started',
  );
  try {
    await worker.run();
  } finally {
    await metricsServer?.close();
    await connection.close();
    await orm.close();
    await tracing?.shutdown();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  console.error(
    err instanceof ConfigError || err instanceof TemporalConnectError ? err.message : err,
  );
  process.exit(1);
});
