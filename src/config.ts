import { z } from 'zod';

/** Where `npm start` puts its embedded PostgreSQL when `DATABASE_URL` is not set. */
export const EMBEDDED_POSTGRES_PORT = 54329;
export const DEFAULT_DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${EMBEDDED_POSTGRES_PORT}/events`;
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

const MB = 1024 * 1024;

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  API_HOST: z.string().min(1).default('0.0.0.0'),
  API_PORT: intFrom(0, 65535).default(3000),
  /** Largest accepted body for a single event: room for a 1 MB payload plus its envelope. */
  EVENT_MAX_BODY_BYTES: intFrom(1024, 64 * MB).default(2 * MB),
  BATCH_MAX_BODY_BYTES: intFrom(1024, 256 * MB).default(16 * MB),
  BATCH_MAX_EVENTS: intFrom(1, 100_000).default(1000),
  /** Requests per user per minute; 0 turns rate limiting off (the local default). */
  RATE_LIMIT_PER_MINUTE: intFrom(0, 10_000_000).default(0),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default(DEFAULT_DATABASE_URL),
  DATABASE_POOL_MAX: intFrom(1, 500).default(10),

  TEMPORAL_ADDRESS: z.string().min(1).default(DEFAULT_TEMPORAL_ADDRESS),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('event-ingestion'),

  /** Retries after the first attempt of each activity (the seed's EVENT_MAX_RETRIES). */
  EVENT_MAX_RETRIES: intFrom(0, 100).default(3),
  /** First retry delay; each later one doubles (the seed used 2^n seconds). */
  EVENT_RETRY_INITIAL_INTERVAL_MS: intFrom(1, 3_600_000).default(1000),
  EVENT_RETRY_MAX_INTERVAL_MS: intFrom(1, 3_600_000).default(60_000),
  /** Budget for processing one event or batch, in seconds (the seed's EVENT_PROCESSING_TIMEOUT). */
  EVENT_PROCESSING_TIMEOUT: intFrom(1, 86_400).default(300),
  /** Longest a single activity attempt may run, in seconds. */
  EVENT_ACTIVITY_TIMEOUT: intFrom(1, 3600).default(30),
  /**
   * Run fetch/validate/normalize/persist as local activities: inside the workflow task, with no
   * task-queue round trip per step (about 3x the events/s of the single-event path in the bench).
   * `false` brings back one activity task per step, each attempt visible in history.
   */
  EVENT_LOCAL_ACTIVITIES: z.stringbool().default(true),

  WORKER_MAX_CONCURRENT_ACTIVITIES: intFrom(1, 10_000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: intFrom(1, 10_000).default(100),
  SHUTDOWN_GRACE_MS: intFrom(0, 600_000).default(10_000),
});

export type Env = z.infer<typeof envSchema>;

/** Processing settings the workflows receive as input, so that they stay deterministic. */
export interface ProcessingPolicy {
  maxRetries: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
  processingTimeoutSec: number;
  activityTimeoutSec: number;
  localActivities: boolean;
}

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  api: {
    host: string;
    port: number;
    eventMaxBodyBytes: number;
    batchMaxBodyBytes: number;
    batchMaxEvents: number;
    rateLimitPerMinute: number;
  };
  database: { url: string; poolMax: number };
  temporal: { address: string; namespace: string; taskQueue: string };
  processing: ProcessingPolicy;
  worker: { maxConcurrentActivities: number; maxConcurrentWorkflowTasks: number };
  shutdownGraceMs: number;
}

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
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    api: {
      host: e.API_HOST,
      port: e.API_PORT,
      eventMaxBodyBytes: e.EVENT_MAX_BODY_BYTES,
      batchMaxBodyBytes: e.BATCH_MAX_BODY_BYTES,
      batchMaxEvents: e.BATCH_MAX_EVENTS,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    },
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
    },
    processing: {
      maxRetries: e.EVENT_MAX_RETRIES,
      initialIntervalMs: e.EVENT_RETRY_INITIAL_INTERVAL_MS,
      maxIntervalMs: e.EVENT_RETRY_MAX_INTERVAL_MS,
      processingTimeoutSec: e.EVENT_PROCESSING_TIMEOUT,
      activityTimeoutSec: e.EVENT_ACTIVITY_TIMEOUT,
      localActivities: e.EVENT_LOCAL_ACTIVITIES,
    },
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
  };
}
