import { z } from 'zod';
import { findUnstorable } from '../http/storable-json';
import { EDGE_MAX_DEPTH } from '../events/event.schemas';
import { PLAN_LIMITS, PLAN_MODES, UNPLANNED_POLICIES } from './plan-definition';

/** Why `name` cannot be an event name of a plan, or null. Stored event names are trimmed at the edge, so a padded name would never match one. */
function eventNameProblem(name: string): string | null {
  if (name === '') return 'must not be empty';
  if (name.length > PLAN_LIMITS.maxEventNameLength) {
    return `must be at most ${PLAN_LIMITS.maxEventNameLength} characters`;
  }
  return name.trim() === name ? null : 'must not start or end with whitespace';
}

const jsonSchema = z
  .union([z.boolean(), z.record(z.string(), z.unknown())])
  .meta({ description: 'A JSON Schema (draft 2020-12): an object, or true / false' });

const mode = z.enum(PLAN_MODES, { error: `must be one of ${PLAN_MODES.join(', ')}` }).meta({
  description:
    'off: nothing is checked. report: violations are recorded on the event (violations), which is processed. enforce: a violation fails the event (processing_error names each one)',
});

const unplanned = z
  .enum(UNPLANNED_POLICIES, { error: `must be one of ${UNPLANNED_POLICIES.join(', ')}` })
  .meta({
    description:
      'What becomes of an event whose name has no schema: allow lets it through; reject counts it as a violation (failed under enforce, recorded under report)',
  });

/** Rejects what cannot be stored, event names no event has, and schemas nesting past the limit. */
function storableAndShallow(body: { events: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const bad = findUnstorable(body, EDGE_MAX_DEPTH);
  if (bad) ctx.addIssue({ code: 'custom', message: `${bad.path} ${bad.reason}` });
  for (const [name, schema] of Object.entries(body.events)) {
    const problem = eventNameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', path: ['events', name], message: problem });
    if (findUnstorable(schema, PLAN_LIMITS.maxSchemaDepth)) {
      ctx.addIssue({
        code: 'custom',
        path: ['events', name],
        message: `a schema may nest at most ${PLAN_LIMITS.maxSchemaDepth} levels`,
      });
    }
  }
}

/** The body of `PUT /api/v1/tracking-plan`: the whole plan, which replaces the one in force. */
export const trackingPlanInputSchema = z
  .strictObject({
    mode,
    unplanned: unplanned.default('allow'),
    events: z
      .record(z.string(), jsonSchema)
      .refine(
        (events) => Object.keys(events).length <= PLAN_LIMITS.maxEvents,
        `a plan has at most ${PLAN_LIMITS.maxEvents} event schemas`,
      )
      .default({})
      .meta({
        description:
          'By event name, the JSON Schema its payload (or properties, traits) must match',
      }),
  })
  .superRefine(storableAndShallow)
  .meta({
    id: 'TrackingPlanInput',
    description: `A tracking plan: at most ${PLAN_LIMITS.maxEvents} event schemas, ${PLAN_LIMITS.maxBodyBytes} bytes in all, each nesting at most ${PLAN_LIMITS.maxSchemaDepth} levels, patterns of at most ${PLAN_LIMITS.maxPatternLength} characters (RE2 syntax)`,
  });
export type TrackingPlanInput = z.infer<typeof trackingPlanInputSchema>;

/** What `PUT` and `GET /api/v1/tracking-plan` answer: the plan in force, with its version. */
export const trackingPlanSchema = z
  .strictObject({
    version: z.int().min(1).meta({
      description: 'Grows by one with each PUT; events record the version they are checked against',
    }),
    mode,
    unplanned,
    events: z.record(z.string(), jsonSchema),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'TrackingPlan' });
export type TrackingPlanView = z.infer<typeof trackingPlanSchema>;
