import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from './config';
import { createOrm } from './db/orm';
import { createLogger } from './logger';
import { createEventWorker } from './worker/create-worker';
import { installTemporalRuntime } from './worker/runtime';

/**
 * Entry point of the worker process (`npm run start:worker`). The SDK stops polling on SIGINT
 * and SIGTERM and lets running activities finish within the grace time before `run()` returns.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { process: 'worker' });
  installTemporalRuntime(logger);
  const orm = await createOrm(config.database);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createEventWorker({ config, orm, logger, connection });
  logger.info(
    { task_queue: config.temporal.taskQueue, address: config.temporal.address },
    'worker started',
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
    await orm.close();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
