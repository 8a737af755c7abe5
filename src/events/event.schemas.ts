import { z } from 'zod';
import { isUuid } from '../db/uuid';
import { findUnstorable } from '../http/storable-json';
import { EVENT_STATUSES } from './event-status';

/**
 * Structural cap applied at the edge. The payload rules proper (at most 10 levels, 1 MB) are
 * the processing pipeline's, which records a violation on the event where GET shows it; this
 * cap only keeps absurd input (thousands of levels) out of the database and the worker.
 */
export const EDGE_MAX_DEPTH = 64;

const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters');

const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/;

/**
 * An ISO 8601 date-time such as `2025-12-18T10:30:00Z` or `2025-12-18T12:30:00.5+02:00`. One
 * without an offset is taken as UTC.
 */
const dateTime = z
  .string()
  .pipe(
    z.iso.datetime({
      offset: true,
      local: true,
      error: 'must be an ISO 8601 date-time, e.g. 2025-12-18T10:30:00Z',
    }),
  )
  .transform((s) => new Date(LOCAL_DATE_TIME.test(s) ? `${s}Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date-time');

export const idempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters');

/**
 * One event as clients send it. Unknown fields are rejected (422) rather than ignored: a typo
 * such as `event_nmae` should fail loudly, not store an event without a name.
 */
const eventShape = {
  event_name: name,
  event_type: name,
  payload: z.record(z.string(), z.unknown()).nullable().optional(),
  /** When the event happened, by the client's clock. */
  timestamp: dateTime.optional(),
  /** Per user, names at most one event forever: a repeat returns the original event. */
  idempotency_key: idempotencyKey.optional(),
};

export const eventInputSchema = z.strictObject(eventShape);
export type EventInput = z.infer<typeof eventInputSchema>;

/** Rejects values PostgreSQL cannot store faithfully, anywhere in the body. */
function storable(body: unknown, ctx: z.RefinementCtx): void {
  const bad = findUnstorable(body, EDGE_MAX_DEPTH);
  if (bad) ctx.addIssue({ code: 'custom', message: `${bad.path} ${bad.reason}` });
}

/** The body of `POST /api/v1/events`. */
export const createEventBodySchema = z
  .strictObject({
    ...eventShape,
    /** The client's clock when it sent the request; corrects `timestamp` for clock skew. */
    sent_at: dateTime.optional(),
  })
  .superRefine(storable);
export type CreateEventBody = z.infer<typeof createEventBodySchema>;

/** The body of `POST /api/v1/events/batch`, for a configured largest batch. */
export function createBatchBodySchema(maxEvents: number) {
  return z
    .strictObject({
      events: z
        .array(eventInputSchema)
        .min(1, 'a batch holds at least 1 event')
        .max(maxEvents, `a batch holds at most ${maxEvents} events`),
      sent_at: dateTime.optional(),
    })
    .superRefine(storable)
    .superRefine(uniqueKeysWithinBatch);
}

/** Two events of one batch with the same key would name one event twice: rejected. */
function uniqueKeysWithinBatch(body: { events: EventInput[] }, ctx: z.RefinementCtx): void {
  const firstIndex = new Map<string, number>();
  body.events.forEach((e, i) => {
    if (e.idempotency_key === undefined) return;
    const first = firstIndex.get(e.idempotency_key);
    if (first === undefined) firstIndex.set(e.idempotency_key, i);
    else {
      ctx.addIssue({
        code: 'custom',
        path: ['events', i, 'idempotency_key'],
        message: `repeats the idempotency_key of events[${first}]`,
      });
    }
  });
}
export type CreateBatchBody = z.infer<ReturnType<typeof createBatchBodySchema>>;

/** The query of `GET /api/v1/events`: filters, page size, and the cursor from the last page. */
export const listEventsQuerySchema = z.strictObject({
  status: z.enum(EVENT_STATUSES).optional(),
  event_name: name.optional(),
  event_type: name.optional(),
  /** Events about this person, by the sender's id for them (an analytics SDK's `userId`). */
  subject_user_id: z.string().min(1).max(255).optional(),
  /** Events about this anonymous visitor (an analytics SDK's `anonymousId`). */
  anonymous_id: z.string().min(1).max(255).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  // A canonical UUID, as ids are: anything else would reach PostgreSQL as a malformed uuid.
  cursor: z.string().refine(isUuid, 'must be a next_cursor value from an earlier page').optional(),
});
export type ListEventsQuery = z.infer<typeof listEventsQuerySchema>;

/** Path ids: UUIDs. A malformed one answers 404 like an unknown one. */
export const eventIdParamSchema = z.uuid();
