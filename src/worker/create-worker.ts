import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import { EventSchema } from '../events/event.entity';
import type { Logger } from '../logger';
import { activityMetricsInterceptor } from './metrics-interceptor';
import type { WorkerMetrics } from './worker-metrics';

export interface EventWorkerDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  connection: NativeConnection;
  /** A prebuilt bundle (tests share one); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Replaces activities, for fault injection in tests. */
  wrapActivities?: (a: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
  /** Where activity and event metrics go; none are recorded when omitted. */
  metrics?: WorkerMetrics;
}

/** The worker that runs the event workflows and their activities. */
export async function createEventWorker(deps: EventWorkerDeps): Promise<Worker> {
  const { config, orm, logger, connection } = deps;
  const activities = createActivities({ orm, logger });
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : { workflowsPath: require.resolve('../../workflows') }),
    activities: deps.wrapActivities ? deps.wrapActivities(activities) : activities,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    shutdownGraceTime: config.shutdownGraceMs,
    ...(deps.metrics && {
      interceptors: {
        activity: [
          activityMetricsInterceptor(deps.metrics, {
            async eventType(eventId) {
              const event = await orm.em
                .fork()
                .findOne(EventSchema, { id: eventId }, { fields: ['eventType'] });
              return event?.eventType ?? null;
            },
            batchOutcome: (batchId) =>
              orm.em.fork().execute(
                // Validation failures are recorded as `validation_error: ...` (batch-activities).
                `select event_type as "eventType", status,
                        case when processing_error like 'validation_error:%'
                             then 'validation_error' else 'error' end as reason,
                        count(*)::int as n
                   from events where batch_id = ? group by 1, 2, 3`,
                [batchId],
              ),
          }),
        ],
      },
    }),
  });
}
