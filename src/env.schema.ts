/**
 * Every environment variable the service reads, with its bounds and default: the schema
 * `loadConfig` (config.ts) validates the environment against, once, at start. The
 * configuration table of docs/configuration.md is held to it by a test.
 */
import { z } from 'zod';
import { DEFAULT_BATCH_POLICY, DEFAULT_PROCESSING_POLICY } from '../workflows/types';

/** Where `npm start` puts its embedded PostgreSQL when `DATABASE_URL` is not set. */
export const EMBEDDED_POSTGRES_PORT = 54329;
export const DEFAULT_DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${EMBEDDED_POSTGRES_PORT}/events`;

const MB = 1024 * 1024;

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const envSchema = z.object({
  /** Not read by the service; validated because Koa and other libraries act on it. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  API_HOST: z.string().min(1).default('0.0.0.0'),
  API_PORT: intFrom(0, 65535).default(3000),
  /**
   * Where web pages reach this API (behind a proxy, the public address): the browser settings
   * point analytics.js at its `/v1`. Configured, never taken from request headers, which anyone
   * can forge. Unset: http://localhost:<API_PORT>, right for `npm start`.
   */
  PUBLIC_API_URL: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !/[?#]/.test(u), 'must have no query or fragment')
    .optional(),
  /**
   * Behind a load balancer: take the client address from X-Forwarded-For (and the protocol from
   * X-Forwarded-Proto). Off by default, since a client could otherwise claim any address.
   */
  TRUST_PROXY: z.stringbool().default(false),
  /**
   * How many proxies append to X-Forwarded-For; the client address is read that many entries
   * from the right, where a client cannot forge it.
   */
  TRUST_PROXY_HOPS: intFrom(1, 10).default(1),
  /** Largest accepted body for a single event: room for a 1 MB payload plus its envelope. */
  EVENT_MAX_BODY_BYTES: intFrom(1024, 64 * MB).default(2 * MB),
  BATCH_MAX_BODY_BYTES: intFrom(1024, 256 * MB).default(16 * MB),
  BATCH_MAX_EVENTS: intFrom(1, 100_000).default(1000),
  /**
   * Most messages one tracking batch (`/v1/batch`, `/v1/import`, `/v1/b`) carries; past it the
   * request is answered 400. Segment limits a batch to 500 KB: 2,500 messages of 200 bytes.
   */
  TRACKING_BATCH_MAX_MESSAGES: intFrom(1, 100_000).default(2500),
  /**
   * Bytes of large request bodies (64 KB and up) the API parses and stores at once; more wait
   * their turn. Handling a body costs several times its size (the parsed value, the stored
   * text), so this bounds the API's memory under many maximum-size bodies in parallel.
   */
  API_BODY_BUDGET_BYTES: intFrom(MB, 1024 * MB).default(32 * MB),
  /** Payload bytes one batch activity loads at once; bounds worker memory. */
  BATCH_CHUNK_MAX_BYTES: intFrom(1024, 64 * MB).default(DEFAULT_BATCH_POLICY.chunkMaxBytes),
  BATCH_CHUNK_MAX_EVENTS: intFrom(1, 100_000).default(DEFAULT_BATCH_POLICY.chunkMaxEvents),
  /** History length after which a batch run continues as new (Temporal warns at 10,240). */
  BATCH_HISTORY_EVENT_LIMIT: intFrom(100, 10_000).default(DEFAULT_BATCH_POLICY.historyEventLimit),
  /**
   * How long an API process remembers the user a key names, so that a key costs a database
   * lookup once per this long rather than per request; a replaced write key keeps working this
   * long on API processes other than the one that replaced it. 0 looks every key up.
   */
  KEY_CACHE_TTL_MS: intFrom(0, 600_000).default(5000),
  /**
   * Tracking messages (every `/v1/*` route) wait in PostgreSQL for the relay, which puts each
   * user's into groups of at most this many, each processed by one batch workflow.
   */
  TRACKING_GROUP_MAX_MESSAGES: intFrom(1, 100_000).default(500),
  /** How long a user's oldest waiting message waits for others before its group forms. */
  TRACKING_GROUP_WINDOW_MS: intFrom(0, 60_000).default(200),
  /**
   * Events per user per minute (a request counts as one, a batch as its events); 0 turns rate
   * limiting off (the local default; docker-compose.yml sets one).
   */
  RATE_LIMIT_PER_MINUTE: intFrom(0, 10_000_000).default(0),

  /** How often the outbox sweeps for events whose workflow has not started; 0 = off. */
  OUTBOX_INTERVAL_MS: intFrom(0, 3_600_000).default(1000),
  /** How long an event may stay `received` before the sweep takes it over from the API. */
  OUTBOX_GRACE_MS: intFrom(0, 3_600_000).default(5000),
  OUTBOX_BATCH_SIZE: intFrom(1, 10_000).default(500),
  /**
   * Single-event workflows Temporal may hold at once (started, not yet finished). Beyond it,
   * accepted events wait in PostgreSQL as `received`, so a burst never floods the engine.
   */
  OUTBOX_MAX_IN_FLIGHT: intFrom(1, 100_000).default(200),
  /** Workflow starts one API process has under way at once. */
  OUTBOX_START_CONCURRENCY: intFrom(1, 1000).default(16),
  /**
   * Events stored but not yet started beyond which POST answers 503 with Retry-After rather
   * than accept what cannot be processed in reasonable time; 0 turns the bound off.
   */
  ADMISSION_MAX_BACKLOG: intFrom(0, 100_000_000).default(50_000),
  /**
   * How often the API's sweeper looks for `queued` and `processing` events whose workflow run is
   * gone or closed (terminated, timed out, lost), to give them a new run or fail them; 0 = off.
   */
  RUN_SWEEP_INTERVAL_MS: intFrom(0, 3_600_000).default(10_000),
  /**
   * How long a `queued` or `processing` event goes unchanged before the sweeper asks Temporal
   * about its run; a run found alive is asked about again this much later.
   */
  RUN_SWEEP_STALE_MS: intFrom(0, 86_400_000).default(60_000),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default(DEFAULT_DATABASE_URL),
  DATABASE_POOL_MAX: intFrom(1, 500).default(10),
  /**
   * Longest the statement of `GET /api/v1/events` may run (PostgreSQL's statement_timeout, set
   * for it alone), so that one account's listing cannot hold a pooled connection for long; past
   * it the request answers 503 `query_timeout`. 0 turns it off. The listing is the one query
   * whose cost grows with the data: the others read by key, and writes are bounded by the body
   * limits, so a busy database only slows them.
   */
  LIST_STATEMENT_TIMEOUT_MS: intFrom(0, 3_600_000).default(10_000),

  /**
   * Where Temporal is and how to authenticate: read by `@temporalio/envconfig`, as the `temporal`
   * CLI and the other SDKs read them, over the TOML profile TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE
   * name. Unset: 127.0.0.1:7233, namespace `default`, plain gRPC.
   */
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  TEMPORAL_CONFIG_FILE: z.string().min(1).optional(),
  TEMPORAL_PROFILE: z.string().min(1).optional(),
  /** Temporal Cloud API key; turns TLS on unless TEMPORAL_TLS=false. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().min(1).optional(),
  /** Name the server certificate carries when it is not the address's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('event-ingestion'),
  /**
   * How long one workflow start may take before the outbox gives up on it for now; the event
   * stays `received` and a later pass starts it.
   */
  TEMPORAL_START_TIMEOUT_MS: intFrom(100, 60_000).default(2000),

  /** Retries after the first attempt of each activity (the seed's EVENT_MAX_RETRIES). */
  EVENT_MAX_RETRIES: intFrom(0, 100).default(DEFAULT_PROCESSING_POLICY.maxRetries),
  /** First retry delay; each later one doubles (the seed used 2^n seconds). */
  EVENT_RETRY_INITIAL_INTERVAL_MS: intFrom(1, 3_600_000).default(
    DEFAULT_PROCESSING_POLICY.initialIntervalMs,
  ),
  EVENT_RETRY_MAX_INTERVAL_MS: intFrom(1, 3_600_000).default(
    DEFAULT_PROCESSING_POLICY.maxIntervalMs,
  ),
  /** Budget for processing one event or batch, in seconds (the seed's EVENT_PROCESSING_TIMEOUT). */
  EVENT_PROCESSING_TIMEOUT: intFrom(1, 86_400).default(
    DEFAULT_PROCESSING_POLICY.processingTimeoutSec,
  ),
  /** Longest a single activity attempt may run, in seconds. */
  EVENT_ACTIVITY_TIMEOUT: intFrom(1, 3600).default(DEFAULT_PROCESSING_POLICY.activityTimeoutSec),
  /**
   * Longest a workflow may wait for a worker, in seconds. With the budget it makes each run's
   * execution timeout (see `workflowExecutionTimeoutMs`); a run that times out waiting is given a
   * new one by the sweeper.
   */
  EVENT_MAX_QUEUE_WAIT: intFrom(1, 30 * 86_400).default(3600),
  /**
   * Run fetch/validate/normalize/persist as local activities: inside one workflow task, with no
   * task-queue round trip per step. Each step is still recorded in history (a marker naming the
   * activity, its result or failure) and shown in the Web UI. See docs/benchmarks.md
   * for what it buys; `false` gives every step and retry its own activity task.
   */
  EVENT_LOCAL_ACTIVITIES: z.stringbool().default(true),

  WORKER_MAX_CONCURRENT_ACTIVITIES: intFrom(1, 10_000).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: intFrom(1, 10_000).default(100),
  /**
   * Workflows a worker keeps in memory between their tasks. The SDK's default sizes the cache
   * from the heap limit (thousands on a large machine), which lets RSS grow far past what short
   * event workflows need; past the cache a workflow is replayed from history on its next task.
   */
  WORKER_MAX_CACHED_WORKFLOWS: intFrom(0, 100_000).default(250),
  /**
   * A workflow bundle built ahead of time (`npm run build:workflows`). Unset, the worker bundles
   * the workflows at start, which costs seconds and a few hundred MB of memory it never returns.
   */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  SHUTDOWN_GRACE_MS: intFrom(0, 600_000).default(10_000),

  /** Serve `GET /metrics` on the API port; turn off where that port is public. */
  METRICS_ENABLED: z.stringbool().default(true),
  /** When set, every metrics endpoint of ours wants `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Interface of the worker's own metrics and probes; loopback unless another is configured. */
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** The worker's own metrics endpoint; 0 turns it off. */
  WORKER_METRICS_PORT: intFrom(0, 65535).default(9464),
  /**
   * Interface of the Temporal SDK's own Prometheus exporter. It cannot check METRICS_TOKEN, so
   * it stays on loopback unless another interface (a private one) is configured.
   */
  TEMPORAL_SDK_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** The Temporal SDK's runtime metrics; 0 turns it off. */
  TEMPORAL_SDK_METRICS_PORT: intFrom(0, 65535).default(9465),
  /**
   * OpenTelemetry traces go over OTLP/HTTP to this endpoint (e.g. http://collector:4318); unset,
   * tracing is off and costs nothing. The exporter reads the other OTEL_EXPORTER_OTLP_* itself.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('event-ingestion'),
  /** Distinct `event_type` label values one worker reports before folding the rest into `other`. */
  WORKER_METRICS_MAX_EVENT_TYPES: intFrom(1, 10_000).default(50),
  /** Distinct `event_name` label values (tracking plan violations) before the rest are `other`. */
  WORKER_METRICS_MAX_EVENT_NAMES: intFrom(1, 10_000).default(100),
});

export type Env = z.infer<typeof envSchema>;

/** Every variable the service reads, for checks that deployment files set nothing else. */
export const ENV_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

const PLATFORM_CONFIG_DIRS = ['HOME', 'XDG_CONFIG_HOME', 'APPDATA'];

/**
 * What `@temporalio/envconfig` reads beside the TEMPORAL_* variables of the schema: the
 * `TEMPORAL_GRPC_META_<NAME>` family (gRPC metadata sent with every call; no object schema can
 * name a family), and where the platform keeps the user's configuration (`HOME`,
 * `XDG_CONFIG_HOME`, `APPDATA`), so the default profile file is found where the `temporal` CLI
 * keeps it (`~/.config/temporalio/temporal.toml` on Linux).
 */
export function envconfigExtras(source: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).filter(
      ([k]) => k.startsWith('TEMPORAL_GRPC_META_') || PLATFORM_CONFIG_DIRS.includes(k),
    ),
  );
}
