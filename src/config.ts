import {
  DEFAULT_PROCESSING_POLICY,
  type BatchPolicy,
  type ProcessingPolicy,
} from '../workflows/types';
import { envSchema, envconfigExtras, type Env } from './env.schema';
import { resolveTemporalConnection, type TemporalConnection } from './temporal/connection-options';

export type { BatchPolicy, ProcessingPolicy } from '../workflows/types';

/** The service's configuration: made from the validated environment by `configFrom`. */
export type Config = ReturnType<typeof configFrom>;
/** OpenTelemetry tracing; off when `otlpEndpoint` is undefined. */
export type TracingConfig = Config['tracing'];

/** Thrown at start-up when an environment variable has a value the service cannot use. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

/** Parses and validates the environment once; the only reader of `process.env` in the service. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })),
    );
  }
  const e = parsed.data;
  // envconfig takes the connection from the values validated here, not from the environment
  // itself, so every variable has one reader; it adds the TOML profile they may name.
  const temporal = resolveTemporalConnection({
    ...Object.fromEntries(
      Object.entries(e).filter(
        (entry): entry is [string, string] =>
          entry[0].startsWith('TEMPORAL_') && typeof entry[1] === 'string',
      ),
    ),
    ...envconfigExtras(present as Record<string, string>),
  });
  if (!temporal.connection) throw new ConfigError(temporal.problems);
  return configFrom(e, temporal.connection);
}

/** The configuration the rest of the service reads, grouped by who reads it. */
function configFrom(e: Env, connection: TemporalConnection) {
  return {
    logLevel: e.LOG_LEVEL,
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      eventMaxBodyBytes: e.EVENT_MAX_BODY_BYTES,
      batchMaxBodyBytes: e.BATCH_MAX_BODY_BYTES,
      batchMaxEvents: e.BATCH_MAX_EVENTS,
      trackingBatchMaxMessages: e.TRACKING_BATCH_MAX_MESSAGES,
      /** Where web pages reach the API, without a trailing slash. */
      publicUrl: (e.PUBLIC_API_URL ?? `http://localhost:${e.API_PORT}`).replace(/\/+$/, ''),
      bodyBudgetBytes: e.API_BODY_BUDGET_BYTES,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      /** Trust X-Forwarded-* from this many proxies; 0 trusts none. */
      trustProxyHops: e.TRUST_PROXY ? e.TRUST_PROXY_HOPS : 0,
      /** How long a key's user is remembered; 0 looks every key up. */
      keyCacheTtlMs: e.KEY_CACHE_TTL_MS,
      /** statement_timeout of the listing's statement; 0 is none. */
      listStatementTimeoutMs: e.LIST_STATEMENT_TIMEOUT_MS,
    },
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    /** The connection (`connectionOptions` turns it into `Connection` options) and its use. */
    temporal: {
      ...connection,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      startTimeoutMs: e.TEMPORAL_START_TIMEOUT_MS,
    },
    processing: {
      maxRetries: e.EVENT_MAX_RETRIES,
      initialIntervalMs: e.EVENT_RETRY_INITIAL_INTERVAL_MS,
      maxIntervalMs: e.EVENT_RETRY_MAX_INTERVAL_MS,
      processingTimeoutSec: e.EVENT_PROCESSING_TIMEOUT,
      activityTimeoutSec: e.EVENT_ACTIVITY_TIMEOUT,
      localActivities: e.EVENT_LOCAL_ACTIVITIES,
      revision: DEFAULT_PROCESSING_POLICY.revision,
    } satisfies ProcessingPolicy as ProcessingPolicy,
    batch: {
      chunkMaxBytes: e.BATCH_CHUNK_MAX_BYTES,
      chunkMaxEvents: e.BATCH_CHUNK_MAX_EVENTS,
      historyEventLimit: e.BATCH_HISTORY_EVENT_LIMIT,
    } satisfies BatchPolicy as BatchPolicy,
    outbox: {
      intervalMs: e.OUTBOX_INTERVAL_MS,
      graceMs: e.OUTBOX_GRACE_MS,
      batchSize: e.OUTBOX_BATCH_SIZE,
      maxInFlight: e.OUTBOX_MAX_IN_FLIGHT,
      startConcurrency: e.OUTBOX_START_CONCURRENCY,
    },
    admission: { maxBacklog: e.ADMISSION_MAX_BACKLOG },
    /** How long runs may take in all (their execution timeout) and how lost runs are found. */
    runs: {
      maxQueueWaitSec: e.EVENT_MAX_QUEUE_WAIT,
      sweepIntervalMs: e.RUN_SWEEP_INTERVAL_MS,
      sweepStaleMs: e.RUN_SWEEP_STALE_MS,
    },
    grouping: { maxMessages: e.TRACKING_GROUP_MAX_MESSAGES, windowMs: e.TRACKING_GROUP_WINDOW_MS },
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    /** Where and how the API and the worker expose Prometheus metrics. */
    metrics: {
      /** Whether the API serves `GET /metrics`. */
      apiEnabled: e.METRICS_ENABLED,
      /** Bearer token scrapers must send; undefined leaves the endpoints open. */
      token: e.METRICS_TOKEN,
      workerHost: e.WORKER_METRICS_HOST,
      /** Port of the worker's own metrics; 0 is off. */
      workerPort: e.WORKER_METRICS_PORT,
      sdkHost: e.TEMPORAL_SDK_METRICS_HOST,
      /** Port of the Temporal SDK's metrics exporter; 0 is off. */
      sdkPort: e.TEMPORAL_SDK_METRICS_PORT,
      /** Caps on distinct `event_type` and `event_name` label values per worker process. */
      maxEventTypes: e.WORKER_METRICS_MAX_EVENT_TYPES,
      maxEventNames: e.WORKER_METRICS_MAX_EVENT_NAMES,
    },
    tracing: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME },
  };
}
