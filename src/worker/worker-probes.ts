import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Orm } from '../db/orm';
import { databaseCheck, migrationsCheck, temporalCheck } from '../health/dependency-checks';
import type { WorkerHealth } from './metrics-server';

/**
 * The worker's `/health` and `/ready`. Draining after SIGTERM counts as alive (an orchestrator
 * must let it finish its activities) but not ready.
 */
export function workerProbes(worker: Worker, orm: Orm, connection: NativeConnection): WorkerHealth {
  return {
    alive: () => !['FAILED', 'STOPPED'].includes(worker.getState()),
    checks: [
      { name: 'worker', check: async () => worker.getState() === 'RUNNING' },
      databaseCheck(orm),
      migrationsCheck(orm),
      temporalCheck(() => connection.workflowService.getSystemInfo({})),
    ],
  };
}
