import { z } from 'zod';

/** `GET /health`. */
export const healthSchema = z.strictObject({ status: z.literal('ok') }).meta({ id: 'Health' });

/** `GET /ready`, with 200 and 503 alike. */
export const readinessSchema = z
  .strictObject({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(z.string(), z.enum(['ok', 'unavailable'])),
    backlog: z
      .strictObject({
        unstarted: z.int().meta({ description: 'Events stored whose workflow has not started' }),
        oldest_age_sec: z.number().meta({ description: 'Age of the oldest of them' }),
        oldest_unfinished_age_sec: z.number().meta({
          description: 'Age of the oldest event not yet processed or failed, in seconds',
        }),
        in_flight: z.int().meta({
          description:
            'Workflows running on the task queue, single events and batches (bounded by OUTBOX_MAX_IN_FLIGHT)',
        }),
      })
      .meta({ description: 'Shown, not judged: a backlog drains on its own' }),
    /** Why each unavailable dependency is, e.g. "database error: ECONNREFUSED"; when not ready. */
    reasons: z.record(z.string(), z.string()).optional(),
  })
  .meta({ id: 'Readiness' });
