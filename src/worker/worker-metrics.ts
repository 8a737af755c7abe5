import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { EventOutcomes } from '../../activities';
import { BoundedLabel } from '../metrics/bounded-label';

/** The worker's own Prometheus metrics (the Temporal SDK's are exported separately). */
export interface WorkerMetrics {
  registry: Registry;
  /** Events marked processed, by event type. */
  eventsProcessed: Counter<'event_type'>;
  /** Events marked failed, by event type and `validation_error` or `error`. */
  eventsFailed: Counter<'event_type' | 'reason'>;
  /** Wall time of each activity attempt, by activity type and `completed` or `failed`. */
  activityDuration: Histogram<'activity_type' | 'outcome'>;
  /** Events that broke their tracking plan, by event name and `failed` or `reported`. */
  planViolations: Counter<'event_name' | 'outcome'>;
  /** Folds event types past the cap into `other`; see `BoundedLabel`. */
  eventTypes: BoundedLabel;
  /** Folds event names past the cap into `other`. */
  eventNames: BoundedLabel;
}

/** Creates the worker's metrics, with Node's process metrics, in a registry of their own. */
export function createWorkerMetrics(options: {
  maxEventTypes: number;
  maxEventNames: number;
  registry?: Registry;
}): WorkerMetrics {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    eventsProcessed: new Counter({
      name: 'events_processed_total',
      help: 'Events marked processed, by event type (types past the cap are "other")',
      labelNames: ['event_type'],
      registers: [registry],
    }),
    eventsFailed: new Counter({
      name: 'events_failed_total',
      help: 'Events marked failed, by event type and reason (validation_error or error)',
      labelNames: ['event_type', 'reason'],
      registers: [registry],
    }),
    activityDuration: new Histogram({
      name: 'activity_duration_seconds',
      help: 'Duration of activity attempts run by this worker, by activity type and outcome',
      labelNames: ['activity_type', 'outcome'],
      // Up to the longest EVENT_ACTIVITY_TIMEOUT worth telling apart.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    planViolations: new Counter({
      name: 'tracking_plan_violations_total',
      help: 'Events that broke their tracking plan, by event name (names past the cap are "other") and outcome (failed or reported)',
      labelNames: ['event_name', 'outcome'],
      registers: [registry],
    }),
    eventTypes: new BoundedLabel(options.maxEventTypes),
    eventNames: new BoundedLabel(options.maxEventNames),
  };
}

/** Counts the events activities end, their types capped by `eventTypes` and names by `eventNames`. */
export function countedOutcomes(metrics: WorkerMetrics): EventOutcomes {
  const event_type = (type: string) => metrics.eventTypes.valueOf(type);
  return {
    processed: (type, count = 1) =>
      metrics.eventsProcessed.inc({ event_type: event_type(type) }, count),
    failed: (type, reason, count = 1) =>
      metrics.eventsFailed.inc({ event_type: event_type(type), reason }, count),
    violated: (name, outcome, count = 1) =>
      metrics.planViolations.inc({ event_name: metrics.eventNames.valueOf(name), outcome }, count),
  };
}
