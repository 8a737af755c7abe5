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
}

/** Used when a run is started without a policy, e.g. by hand from the Web UI or CLI. */
export const DEFAULT_PROCESSING_POLICY: ProcessingPolicy = {
  maxRetries: 3,
  initialIntervalMs: 1000,
  maxIntervalMs: 60_000,
  processingTimeoutSec: 300,
  activityTimeoutSec: 30,
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

export type ProcessOutcome = 'success' | 'validation_error' | 'error';

/** The result of `processEventWorkflow`, in the shape the Celery task returned. */
export interface ProcessEventResult {
  status: ProcessOutcome;
  event_id: string;
  processed_at?: string;
  error?: string;
}

/** What the workflow records on a row it gives up on. */
export interface EventFailure {
  kind: 'validation_error' | 'error';
  message: string;
}
