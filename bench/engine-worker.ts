// The worker of measurement a: only the bench's trivial workflows, with the service's own settings.
import { NativeConnection, Worker } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { installTemporalRuntime } from '../src/worker/runtime';
import { benchActivities } from './activities';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { process: 'bench-engine-worker' });
  installTemporalRuntime(logger);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('./workflows/noop.workflow'),
    activities: benchActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    shutdownGraceTime: config.shutdownGraceMs,
  });
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
