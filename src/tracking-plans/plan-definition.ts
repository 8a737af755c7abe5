/**
 * What a tracking plan says, as `PUT /api/v1/tracking-plan` takes it and the worker reads it
 * back by (user, version): no Node, no HTTP, so the API and the activities share it.
 */
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

/** `off`: nothing is checked. `report`: violations are recorded, the event is processed. `enforce`: a violation fails the event. */
export const PLAN_MODES = ['off', 'report', 'enforce'] as const;
export type PlanMode = (typeof PLAN_MODES)[number];

/** What becomes of an event whose name has no schema in the plan. */
export const UNPLANNED_POLICIES = ['allow', 'reject'] as const;
export type UnplannedPolicy = (typeof UNPLANNED_POLICIES)[number];

/** A JSON Schema (draft 2020-12): an object, or `true`/`false`. */
export type JsonSchema = boolean | Record<string, unknown>;

export interface PlanDefinition {
  mode: PlanMode;
  unplanned: UnplannedPolicy;
  /** By event name, the schema its payload must match (see `plan-target.ts` for which part). */
  events: Record<string, JsonSchema>;
}

/**
 * The limits on one plan. The API compiles every plan it is sent before storing it, and each
 * worker compiles each version it meets once, so these bound what a plan costs both of them
 * (time and memory) as well as what a hostile one could cost.
 */
export const PLAN_LIMITS = {
  /** Bytes of the request body (413 past it). */
  maxBodyBytes: 512 * 1024,
  /** Event names with a schema. */
  maxEvents: 200,
  /** Characters of an event name, as of an event's `event_name`. */
  maxEventNameLength: SHORT_TEXT_LENGTH,
  /** Levels of nesting of one event's schema, counting the schema object as level 1. */
  maxSchemaDepth: 32,
  /** Characters of a `pattern` or a `patternProperties` key. */
  maxPatternLength: 256,
} as const;
