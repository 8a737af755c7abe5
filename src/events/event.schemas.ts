import { z } from 'zod';
import { isUuid } from '../db/uuid';
import { findUnstorable, unstorableTextReason } from '../http/storable-json';
import { MAX_STORED_VIOLATIONS } from '../tracking-plans/violation';
import { EVENT_STATUSES } from './event-status';
import { DATE_RANGE, isStorableDate } from './storable-date';
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

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
  .max(SHORT_TEXT_LENGTH, `must be at most ${SHORT_TEXT_LENGTH} characters`);

const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T[\d:.]+$/;

/**
 * An ISO 8601 date-time such as `2025-12-18T10:30:00Z` or `2025-12-18T12:30:00.5+02:00`, from
 * year 0001 to 9999 once its offset is applied (see `storable-date.ts`). One without an offset
 * is taken as UTC.
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
  .refine((d) => !Number.isNaN(d.getTime()), 'is not a valid date-time')
  .refine(isStorableDate, `must be ${DATE_RANGE}`);

export const idempotencyKey = z
  .string()
  .min(1, 'must not be empty')
  .max(SHORT_TEXT_LENGTH, `must be at most ${SHORT_TEXT_LENGTH} characters`);

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
  .superRefine(storable)
  .meta({ id: 'EventInput', description: 'One event. Unknown fields are rejected (422).' });
export type CreateEventBody = z.infer<typeof createEventBodySchema>;

/**
 * The body of `POST /api/v1/events/batch`, for a configured largest batch. The limit changes
 * only the numbers in the OpenAPI document, not its shape.
 */
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
    .superRefine(uniqueKeysWithinBatch)
    .meta({
      id: 'BatchInput',
      description: `1 to ${maxEvents} events, stored together or not at all.`,
    });
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

/**
 * A filter's text. What PostgreSQL cannot hold (a NUL, a lone surrogate) no stored event can
 * match, and would reach the database as an error rather than as a value: refused here.
 */
const filterText = (schema: z.ZodString) =>
  schema.superRefine((s, ctx) => {
    const reason = unstorableTextReason(s);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

/** The query of `GET /api/v1/events`: filters, page size, and the cursor from the last page. */
export const listEventsQuerySchema = z.strictObject({
  status: z.enum(EVENT_STATUSES).optional(),
  event_name: filterText(name).optional(),
  event_type: filterText(name).optional(),
  /** Events about this person, by the sender's id for them (an analytics SDK's `userId`). */
  subject_user_id: filterText(z.string().min(1).max(SHORT_TEXT_LENGTH)).optional(),
  /** Events about this anonymous visitor (an analytics SDK's `anonymousId`). */
  anonymous_id: filterText(z.string().min(1).max(SHORT_TEXT_LENGTH)).optional(),
  /** `true`: only events that broke their tracking plan; `false`: only those that did not. */
  has_violations: z.stringbool({ error: 'must be true or false' }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  // A canonical UUID, as ids are: anything else would reach PostgreSQL as a malformed uuid.
  cursor: z.string().refine(isUuid, 'must be a next_cursor value from an earlier page').optional(),
});
export type ListEventsQuery = z.infer<typeof listEventsQuerySchema>;

/** Path ids: UUIDs. A malformed one answers 404 like an unknown one. */
export const eventIdParamSchema = z.uuid();

/*
 * What the routes answer. The OpenAPI document is generated from these schemas and the API
 * tests parse real responses with them, so the types below are the documented contract.
 */

/** What `POST /api/v1/events` and `POST /api/v1/events/:id/reprocess` answer. */
export const acceptedEventSchema = z
  .strictObject({
    event_id: z.uuid(),
    workflow_id: z.string().nullable().meta({
      example: 'event-01a2f000-0000-7000-8000-000000000001',
      description: 'Null while a tracking message waits for its group (see the tracking API)',
    }),
    status: z.enum(EVENT_STATUSES),
  })
  .meta({ id: 'AcceptedEvent' });
export type AcceptedEvent = z.infer<typeof acceptedEventSchema>;

/** One way an event broke its tracking plan. */
export const violationSchema = z
  .strictObject({
    path: z.string().meta({ example: 'payload.plan' }),
    rule: z.string().meta({ description: 'The JSON Schema keyword broken', example: 'enum' }),
    message: z.string().meta({ example: 'must be equal to one of the allowed values' }),
  })
  .meta({ id: 'Violation' });

/** An event as `GET /api/v1/events/:id` shows it (see `event.view.ts`). */
export const eventViewSchema = z
  .strictObject({
    id: z.uuid(),
    event_name: z.string(),
    event_type: z.string(),
    payload: z.unknown().meta({ description: 'What the client sent, verbatim; null if absent' }),
    properties: z.record(z.string(), z.unknown()).nullable().meta({
      description: 'Set by processing: original, normalized, normalized_at and user',
    }),
    status: z.enum(EVENT_STATUSES),
    processed: z.boolean(),
    processed_at: z.iso.datetime().nullable(),
    processing_error: z.string().nullable(),
    /** Reprocessing adds one. */
    attempts: z.int().meta({ description: 'Workflow runs that picked the event up' }),
    last_error: z
      .string()
      .nullable()
      .meta({ description: "The latest failure's error, kept after a later success" }),
    workflow_id: z
      .string()
      .nullable()
      .meta({
        description:
          "The workflow that processes the event: its own, or its batch's; null while a tracking " +
          'message waits for the relay to put it in a group',
      }),
    batch_id: z.uuid().nullable(),
    plan_version: z.int().nullable().meta({
      description:
        'The tracking plan version the event is checked against: the one in force when it was accepted, or when it was last reprocessed; null without a plan',
    }),
    violations: z
      .array(violationSchema)
      .nullable()
      .meta({
        description: `What the event broke of its tracking plan (at most ${MAX_STORED_VIOLATIONS}); null when nothing`,
      }),
    subject_user_id: z.string().nullable().meta({
      description: "Who the event is about: an analytics SDK's userId (see the tracking API)",
    }),
    anonymous_id: z
      .string()
      .nullable()
      .meta({ description: "Who the event is about before they are known: an SDK's anonymousId" }),
    timestamp: z.iso
      .datetime()
      .nullable()
      .meta({ description: "When it happened by the client's clock, as sent" }),
    sent_at: z.iso.datetime().nullable(),
    received_at: z.iso.datetime(),
    event_time: z.iso
      .datetime()
      .meta({ description: 'When it happened, corrected for client clock skew' }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'EventView' });
export type EventView = z.infer<typeof eventViewSchema>;

/** An event in a listing: everything but the payload and properties, which GET by id shows. */
export const eventListItemSchema = eventViewSchema.omit({ payload: true, properties: true });
export type EventListItem = z.infer<typeof eventListItemSchema>;

/** What `GET /api/v1/events` answers: a page of events without payloads, newest first. */
export const eventListSchema = z
  .strictObject({
    events: z.array(eventListItemSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'EventList' });
export type EventList = z.infer<typeof eventListSchema>;

/** What `POST /api/v1/events/batch` answers. */
export const acceptedBatchSchema = z
  .strictObject({
    batch_id: z
      .uuid()
      .nullable()
      .meta({ description: 'Null when every event repeated a known key: no batch was stored' }),
    event_ids: z.array(z.uuid()).meta({
      description: 'In request order: the new event, or the existing one a repeated key names',
    }),
    workflow_id: z
      .string()
      .nullable()
      .meta({ example: 'batch-01a2f000-0000-7000-8000-000000000001' }),
  })
  .meta({ id: 'AcceptedBatch' });
export type AcceptedBatch = z.infer<typeof acceptedBatchSchema>;

/** A batch as `GET /api/v1/batches/:id` shows it (see `event.view.ts`). */
export const batchViewSchema = z
  .strictObject({
    id: z.uuid(),
    workflow_id: z.string(),
    /** `processing` while any event is unfinished, then `completed`. */
    status: z.enum(['processing', 'completed']),
    total_events: z.int(),
    counts: z.record(z.enum(EVENT_STATUSES), z.int()),
    event_ids: z.array(z.uuid()),
    sent_at: z.iso.datetime().nullable(),
    received_at: z.iso.datetime(),
  })
  .meta({ id: 'BatchView' });
export type BatchView = z.infer<typeof batchViewSchema>;
