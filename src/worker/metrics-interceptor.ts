import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ProcessingActivities } from '../../activities';
import type { EventFailure, EventSummary } from '../../workflows/types';
import type { WorkerMetrics } from './worker-metrics';

/** What the interceptor reads from the database to label its counts. */
export interface MetricsLookups {
  /** An event's type; null when the event does not exist. */
  eventType(eventId: string): Promise<string | null>;
  /** How many of a batch's events ended in each status, by event type. */
  batchOutcome(
    batchId: string,
  ): Promise<{ eventType: string; status: string; reason: string; n: number }[]>;
}

/** Reported when an event's type cannot be found out. */
export const UNKNOWN_EVENT_TYPE = 'unknown';

type ActivityName = keyof ProcessingActivities;
const FETCH: ActivityName = 'fetchEvent';
const PERSIST: ActivityName = 'persistEvent';
const MARK_FAILED: ActivityName = 'markEventFailed';
const SUMMARIZE_BATCH: ActivityName = 'summarizeBatch';
const MARK_BATCH_FAILED: ActivityName = 'markBatchFailed';

/**
 * Times every activity attempt, and counts events processed and failed as the activities that
 * end an event (`persistEvent`, `markEventFailed`) complete. Those take only the event id, so
 * the event's type comes from the `fetchEvent` result this worker saw for it; when another
 * worker ran `fetchEvent`, one primary-key read answers instead. Counting happens after the
 * activity's result is settled and never fails or delays it.
 */
export function activityMetricsInterceptor(
  metrics: WorkerMetrics,
  lookups: MetricsLookups,
  rememberedEvents = 10_000,
): ActivityInterceptorsFactory {
  const recent = new RecentEventTypes(rememberedEvents);

  const typeOf = (eventId: string): Promise<string> => {
    const known = recent.take(eventId);
    if (known !== undefined) return Promise.resolve(metrics.eventTypes.valueOf(known));
    return lookups.eventType(eventId).then(
      (type) => (type === null ? UNKNOWN_EVENT_TYPE : metrics.eventTypes.valueOf(type)),
      () => UNKNOWN_EVENT_TYPE,
    );
  };

  const countOutcome = (activity: string, args: unknown[], result: unknown): void => {
    const eventId = args[0];
    if (activity === FETCH && isSummary(result)) {
      recent.remember(result.eventId, result.eventType);
    } else if (activity === PERSIST && typeof eventId === 'string') {
      void typeOf(eventId).then((type) => metrics.eventsProcessed.inc({ event_type: type }));
    } else if (activity === MARK_FAILED && typeof eventId === 'string' && isFailure(args[1])) {
      const reason = args[1].kind;
      void typeOf(eventId).then((type) => metrics.eventsFailed.inc({ event_type: type, reason }));
    } else if (
      (activity === SUMMARIZE_BATCH || activity === MARK_BATCH_FAILED) &&
      typeof eventId === 'string'
    ) {
      // A batch's outcome is read once, when its workflow summarizes or gives up on it; each
      // failed row says itself whether it failed validation or processing gave up on it.
      void countBatch(eventId);
    }
  };

  const countBatch = async (batchId: string): Promise<void> => {
    const rows = await lookups.batchOutcome(batchId).catch(() => []);
    for (const { eventType, status, reason, n } of rows) {
      const event_type = metrics.eventTypes.valueOf(eventType);
      if (status === 'processed') metrics.eventsProcessed.inc({ event_type }, n);
      if (status === 'failed') metrics.eventsFailed.inc({ event_type, reason }, n);
    }
  };

  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        const stop = metrics.activityDuration.startTimer({ activity_type: activity });
        let result: unknown;
        try {
          result = await next(input);
        } catch (err) {
          stop({ outcome: 'failed' });
          throw err;
        }
        stop({ outcome: 'completed' });
        countOutcome(activity, input.args, result);
        return result;
      },
    },
  });
}

/** The newest `max` event types by event id, oldest forgotten first. */
class RecentEventTypes {
  private readonly byId = new Map<string, string>();

  constructor(private readonly max: number) {}

  remember(eventId: string, eventType: string): void {
    this.byId.delete(eventId);
    this.byId.set(eventId, eventType);
    if (this.byId.size > this.max) {
      const oldest = this.byId.keys().next();
      if (!oldest.done) this.byId.delete(oldest.value);
    }
  }

  /** The remembered type, forgotten once read: an event ends once. */
  take(eventId: string): string | undefined {
    const type = this.byId.get(eventId);
    this.byId.delete(eventId);
    return type;
  }
}

function isSummary(value: unknown): value is EventSummary {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<EventSummary>).eventId === 'string' &&
    typeof (value as Partial<EventSummary>).eventType === 'string'
  );
}

function isFailure(value: unknown): value is EventFailure {
  const kind = (value as Partial<EventFailure> | null)?.kind;
  return kind === 'validation_error' || kind === 'error';
}
