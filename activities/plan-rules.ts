import type { ErrorObject } from 'ajv';
import { ExactInteger } from '../src/json/exact-json';
import { RECURSION_MESSAGE, type CompiledPlan } from '../src/tracking-plans/compile-plan';
import { MAX_STORED_VIOLATIONS, type Violation } from '../src/tracking-plans/violation';
import type { EventSource } from '../src/events/event-source';
import type { JsonObject } from './payload-rules';

/** What the plan is checked against: the event, its payload past the shape rules. */
export interface PlannedEvent {
  eventName: string;
  eventType: string;
  source: EventSource;
  payload: JsonObject;
}

/**
 * What the plan makes of an event: it passes; it is processed with its violations recorded
 * (`report`); or it fails (`enforce`, or an unplanned event the plan rejects), with `reason`
 * for `processing_error` (naming each violation) and `summary` for workflow history (naming
 * nothing of the payload or the plan).
 */
export type PlanVerdict =
  | { kind: 'pass' }
  | { kind: 'report'; violations: Violation[] }
  | { kind: 'reject'; violations: Violation[]; reason: string; summary: string };

/** Violations `processing_error` names; it counts the rest. */
const MAX_NAMED_VIOLATIONS = 10;
const MAX_PATH_CHARS = 200;
const MAX_MESSAGE_CHARS = 300;

/**
 * Checks an event against plan version `version`. The schema of the event's name applies to:
 * - a REST event's payload (`null` as `{}`);
 * - a tracking message's `properties` (track, page, screen) or `traits` (identify, group),
 *   absent or `null` as `{}`; the whole payload (the message minus its envelope) for an alias.
 * Paths in violations start where that part sits in the stored payload (`payload.properties`).
 */
export function checkAgainstPlan(
  plan: CompiledPlan,
  version: number,
  event: PlannedEvent,
): PlanVerdict {
  if (plan.mode === 'off') return { kind: 'pass' };
  const validate = plan.validatorFor(event.eventName);
  if (!validate) {
    if (plan.unplanned === 'allow') return { kind: 'pass' };
    const violation: Violation = {
      path: 'event_name',
      rule: 'unplanned',
      message: `tracking plan version ${version} has no schema for ${JSON.stringify(clip(event.eventName, MAX_PATH_CHARS))}, and rejects unplanned events`,
    };
    return plan.mode === 'report'
      ? { kind: 'report', violations: [violation] }
      : {
          kind: 'reject',
          violations: [violation],
          reason: violation.message,
          summary: `not in tracking plan version ${version}, which rejects unplanned events`,
        };
  }
  const { value, path } = planTarget(event);
  let errors: ErrorObject[];
  try {
    if (validate(withPlainNumbers(value))) return { kind: 'pass' };
    errors = validate.errors ?? [];
  } catch (err) {
    // A schema that recurses without end on this value: the value is what the schema refuses,
    // final like any violation, rather than an error retried to the same end.
    if (!(err instanceof RangeError)) throw err;
    errors = [
      {
        instancePath: '',
        schemaPath: '#',
        keyword: '$ref',
        params: {},
        message: RECURSION_MESSAGE,
      },
    ];
  }
  const violations = errors.slice(0, MAX_STORED_VIOLATIONS).map((e) => toViolation(e, path));
  if (plan.mode === 'report') return { kind: 'report', violations };
  const named = violations.slice(0, MAX_NAMED_VIOLATIONS).map((v) => `${v.path}: ${v.message}`);
  const more = errors.length - named.length;
  return {
    kind: 'reject',
    violations,
    reason: `tracking plan version ${version}: ${named.join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
    summary: `breaks tracking plan version ${version} (${errors.length} violation${errors.length === 1 ? '' : 's'}, listed on the event)`,
  };
}

/** The part of the payload an event's schema applies to, and its path in the stored event. */
export function planTarget(event: PlannedEvent): { value: unknown; path: string } {
  if (event.source === 'tracking') {
    const key = ['track', 'page', 'screen'].includes(event.eventType)
      ? 'properties'
      : ['identify', 'group'].includes(event.eventType)
        ? 'traits'
        : null;
    if (key) {
      const part = Object.prototype.hasOwnProperty.call(event.payload, key)
        ? event.payload[key]
        : undefined;
      return { value: part ?? {}, path: `payload.${key}` };
    }
  }
  return { value: event.payload, path: 'payload' };
}

/**
 * The value with each `ExactInteger` (an integer past 2^53, kept as its digits) as the nearest
 * number, which is what a schema means by it (`"type": "integer"`, `"minimum"`); copied only
 * where one occurs. Recursive: payloads nest at most 10 levels by the time the plan applies.
 */
export function withPlainNumbers(value: unknown): unknown {
  if (value instanceof ExactInteger) return Number(value.digits);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const plain = withPlainNumbers(item);
      if (plain !== item) (copy ??= [...value])[i] = plain;
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const plain = withPlainNumbers(item);
    if (plain === item) continue;
    copy ??= { ...value };
    // defineProperty: a key named __proto__ is an own property of a parsed payload.
    Object.defineProperty(copy, key, {
      value: plain,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy ?? value;
}

/** One ajv error as a violation: a dotted path from `base`, the keyword, the message. */
function toViolation(error: ErrorObject, base: string): Violation {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = error.params as Record<string, unknown>;
  // Some keywords report on the object and name the property in their params.
  const named =
    params.additionalProperty ?? params.unevaluatedProperty ?? params.propertyName ?? undefined;
  const message = error.message ?? error.keyword;
  return {
    path: clip([base, ...segments].join('.'), MAX_PATH_CHARS),
    rule: error.keyword,
    message: clip(
      typeof named === 'string' ? `${message} (${JSON.stringify(named)})` : message,
      MAX_MESSAGE_CHARS,
    ),
  };
}

/** At most `max` UTF-16 units, never cutting a surrogate pair in two (jsonb refuses halves). */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}
