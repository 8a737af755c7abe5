import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import {
  type ActivityInterceptorsFactory,
  type NativeConnection,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import type { Tracing } from '../tracing';
import { activityTimingInterceptor } from './activity-timing';
import { countedOutcomes, type WorkerMetrics } from './worker-metrics';
import { workflowInterceptorModules } from './workflow-interceptor-modules';

export interface EventWorkerDeps {
  config: Config;
  orm: Orm;
  logger: Logger;
  connection: NativeConnection;
  /** A prebuilt bundle (tests share one); otherwise WORKFLOW_BUNDLE_PATH's, or bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Replaces activities, for fault injection in tests. */
  wrapActivities?: (a: ReturnType<typeof createActivities>) => ReturnType<typeof createActivities>;
  /** Where activity and event metrics go; none are recorded when omitted. */
  metrics?: WorkerMetrics;
  /** Spans for each workflow and activity; none when omitted (tracing off). */
  tracing?: Tracing;
}

/** The worker that runs the event workflows and their activities. */
export async function createEventWorker(deps: EventWorkerDeps): Promise<Worker> {
  const { config, orm, logger, connection } = deps;
  const activities = createActivities({
    orm,
    logger,
    outcomes: deps.metrics && countedOutcomes(deps.metrics),
  });
  // A bundle built ahead of time has no tracing interceptors: with tracing on, bundle at start.
  const code = workflowCode(
    deps.workflowBundle,
    deps.tracing ? undefined : config.worker.workflowBundlePath,
  );
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...code,
    activities: deps.wrapActivities ? deps.wrapActivities(activities) : activities,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    shutdownGraceTime: config.shutdownGraceMs,
    interceptors: {
      // A prebuilt bundle was made with them (see workflowInterceptorModules).
      ...(code.workflowsPath && {
        workflowModules: workflowInterceptorModules(deps.tracing !== undefined),
      }),
      activity: [
        ...(deps.tracing ? [tracingInterceptors] : []),
        ...(deps.metrics ? [activityTimingInterceptor(deps.metrics)] : []),
      ],
    },
    ...(deps.tracing && {
      sinks: { exporter: makeWorkflowExporter(deps.tracing.spanProcessor, deps.tracing.resource) },
    }),
  });
}

function workflowCode(
  bundle: WorkerOptions['workflowBundle'],
  bundlePath: string | undefined,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (bundlePath) return { workflowBundle: { codePath: bundlePath } };
  return { workflowsPath: require.resolve('../../workflows') };
}

/** An activity span per attempt, child of the workflow span that scheduled it. */
const tracingInterceptors: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
  outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
});
