import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { WorkerMetrics } from './worker-metrics';

/**
 * Times every activity attempt by activity type and outcome. What the activities did to events
 * is counted by the activities themselves (see activities/event-outcomes.ts), where it is known.
 */
export function activityTimingInterceptor(metrics: WorkerMetrics): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const stop = metrics.activityDuration.startTimer({ activity_type: ctx.info.activityType });
        try {
          const result = await next(input);
          stop({ outcome: 'completed' });
          return result;
        } catch (err) {
          stop({ outcome: 'failed' });
          throw err;
        }
      },
    },
  });
}
