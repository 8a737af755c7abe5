import os from 'node:os';
import { Connection } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { loadConfig } from './config';
import { runMain } from './run-main';
import { connectionOptions } from './temporal/connection-options';
import { pollersOf } from './temporal/pollers';

/**
 * A poll lasts up to about 70 s and the server stamps a poller when its poll starts, so a live
 * worker is seen at least this often on each queue type.
 */
const FRESH_MS = 150_000;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Health check of a worker container (`node dist/src/worker-health.js`): exits 0 when a worker of
 * this host polled the configured task queue for both workflow and activity tasks recently, 1
 * otherwise. The SDK names its pollers `<pid>@<hostname>`, and a container's hostname is its own,
 * so this checks that the worker is really polling rather than merely running.
 */
async function main(): Promise<number> {
  const config = loadConfig();
  const suffix = `@${os.hostname()}`;
  const connection = await Connection.connect({
    ...connectionOptions(config.temporal),
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  try {
    const queues = await pollersOf(
      connection.workflowService,
      config.temporal.namespace,
      config.temporal.taskQueue,
    );
    for (const { kind, pollers } of queues) {
      const fresh = pollers.some(
        (p) =>
          p.identity?.endsWith(suffix) &&
          Date.now() - (optionalTsToMs(p.lastAccessTime) ?? 0) < FRESH_MS,
      );
      if (!fresh) {
        console.error(
          `no ${kind} poller of ${os.hostname()} on task queue ` +
            `${config.temporal.taskQueue} in the last ${FRESH_MS / 1000} s`,
        );
        return 1;
      }
    }
    return 0;
  } finally {
    await connection.close();
  }
}

runMain(main);
