/**
 * Processing settings a workflow receives as input. They come from the service configuration
 * (EVENT_MAX_RETRIES and friends) and travel in the workflow's start arguments, so a run keeps
 * the policy it started with and replays deterministically.
 */
export interface ProcessingPolicy {
  maxRetries: number;
  initialIntervalMs: number;
  maxIntervalMs: number;
  processingTimeoutSec: number;
  activityTimeoutSec: number;
  /**
   * Run the processing chain as local activities (inside the workflow task, no task-queue round
   * trip per step). Absent in runs started before the option existed: they keep normal activities,
   * so their histories replay unchanged.
   */
  localActivities?: boolean;
  /**
   * The chain's revision. 2: the budget counts from the first step, each step is bounded by
   * what is left of it (no durable timer), and search attributes are set at start and once at
   * the end. Absent in runs started before revision 2: they keep the first chain, so their
   * histories replay unchanged.
   */
  revision?: 2;
}

/**
 * Used when a run is started without a policy, e.g. by hand from the Web UI or CLI; also the
 * defaults of the configuration's EVENT_* variables, so the two cannot drift apart.
 */
export const DEFAULT_PROCESSING_POLICY: ProcessingPolicy = {
  maxRetries: 3,
  initialIntervalMs: 1000,
  maxIntervalMs: 60_000,
  processingTimeoutSec: 300,
  activityTimeoutSec: 30,
  localActivities: true,
  revision: 2,
};

/** What `fetchEvent` tells the workflow: ids and labels only, never the payload. */
export interface EventSummary {
  eventId: string;
  userId: string;
  eventName: string;
  eventType: string;
  /** Set when an earlier run already processed the event: nothing is left to do. */
  processedAt: string | null;
}

/**
 * The result of `processEventWorkflow`: `success` with when the event was processed, or
 * `validation_error` with why its payload was refused. An infrastructure error that outlasts the
 * retries fails the run instead, so it has no result.
 */
export interface ProcessEventResult {
  status: 'success' | 'validation_error';
  event_id: string;
  processed_at?: string;
  error?: string;
}

/** What the workflow records on a row it gives up on. */
export interface EventFailure {
  kind: 'validation_error' | 'error';
  message: string;
}

/** How a batch is cut into chunks and how long one run's history may grow. */
export interface BatchPolicy {
  /** Payload bytes one activity loads at most (one event larger than this is a chunk alone). */
  chunkMaxBytes: number;
  chunkMaxEvents: number;
  /**
   * History length after which the run continues as new. Temporal warns at 10,240 events and
   * terminates at 51,200; a run stays far below both whatever the batch size.
   */
  historyEventLimit: number;
}

/** Defaults of BATCH_CHUNK_MAX_BYTES, BATCH_CHUNK_MAX_EVENTS and BATCH_HISTORY_EVENT_LIMIT too. */
export const DEFAULT_BATCH_POLICY: BatchPolicy = {
  chunkMaxBytes: 4 * 1024 * 1024,
  chunkMaxEvents: 500,
  historyEventLimit: 5000,
};

/** A contiguous run of a batch's events, in id order; only bounds cross history. */
export interface BatchChunk {
  firstId: string;
  lastId: string;
  events: number;
  bytes: number;
}

/** What `fetchBatch` tells the workflow. */
export interface BatchPlan {
  batchId: string;
  userId: string;
  /** Events the plan covers: those not yet finished when it was made. */
  totalEvents: number;
  chunks: BatchChunk[];
}

/** Where a batch run stands; carried across continue-as-new. */
export interface BatchProgress {
  plan: BatchPlan;
  nextChunk: number;
  /** Workflow-clock time by which the whole batch must be done. */
  deadlineMs: number;
}

export interface BatchWorkflowOptions {
  policy?: ProcessingPolicy;
  batch?: BatchPolicy;
  /**
   * The batch chain's revision. 2: a batch that fits in one chunk costs what a single event
   * does (its steps local activities in one workflow task, search attributes set at start and
   * `EventStatus` once at the end); the budget counts from the first step and bounds each step,
   * with no durable timer; larger batches go on chunk by chunk as activity tasks. Absent in
   * runs started before revision 2, which keep the first chain so their histories replay.
   * Continue-as-new carries it with the rest of the options.
   */
  revision?: 2;
  /** Set only by continue-as-new. */
  resume?: BatchProgress;
}

export interface BatchEventResult {
  event_id: string;
  status: 'processed' | 'failed';
  error?: string;
}

/**
 * What one pass over a chunk did: counts only, so history stays small whatever the payloads.
 * `events` is how many rows the pass found still to process (fewer than the chunk's on a rerun).
 */
export interface ChunkOutcome {
  events: number;
  normalized: number;
  failed: number;
}

/**
 * How many failed events the batch result names at most. A batch may hold 100,000 events
 * (BATCH_MAX_EVENTS) and a workflow result must stay under Temporal's 2 MB payload limit; about
 * 150 bytes per named failure keeps this under 200 KB. The rest are counted, and the API's
 * `GET /api/v1/batches/:id` and each event's row tell every outcome.
 */
export const MAX_REPORTED_FAILURES = 1000;

/**
 * The result of `processEventBatchWorkflow`: the batch's summary, with counts for every event
 * and `results` naming the failed ones (at most `MAX_REPORTED_FAILURES`, in id
 * order; `failures_not_listed` counts the rest). Runs recorded before this shape listed every
 * event in `results`.
 */
export interface ProcessBatchResult {
  status: 'success';
  batch_id: string;
  total_events: number;
  processed: number;
  failed: number;
  results: BatchEventResult[];
  failures_not_listed?: number;
}
