import { z } from 'zod';
import { findUnstorable } from '../http/storable-json';

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

/**
 * One event as clients send it. Unknown fields are rejected (422) rather than ignored: a typo
 * such as `event_nmae` should fail loudly, not store an event without a name.
 */
export const eventInputSchema = z.strictObject({
  event_name: name,
  event_type: name,
  payload: z.record(z.string(), z.unknown()).nullable().optional(),
});

export type EventInput = z.infer<typeof eventInputSchema>;

/** The body of `POST /api/v1/events`. */
export const createEventBodySchema = eventInputSchema.superRefine((body, ctx) => {
  const bad = findUnstorable(body, EDGE_MAX_DEPTH);
  if (bad) ctx.addIssue({ code: 'custom', message: `${bad.path} ${bad.reason}` });
});

export const eventIdParamSchema = z.uuid();
