import type { Sql } from '../src/db/sql';
import type { EventSource } from '../src/events/event-source';
import { parseExactly } from '../src/json/exact-json';
import type { CompiledPlan } from '../src/tracking-plans/compile-plan';
import type { Violation } from '../src/tracking-plans/violation';
import {
  type JsonObject,
  PayloadValidationError,
  validatePayloadShape,
  validateRequiredFields,
} from './payload-rules';
import { checkAgainstPlan } from './plan-rules';

/** An event as the validate steps read it, single and batch alike; the payload parsed exactly. */
export interface EventToJudge {
  id: string;
  user_id: string;
  event_name: string;
  event_type: string;
  source: EventSource;
  plan_version: number | null;
  payload: unknown;
  /** Characters of the payload's JSON text as read: a measure of what holding it costs. */
  payload_chars: number;
}

/**
 * What one event makes of the payload rules and then of its tracking plan:
 * - `accepted`: the payload to normalize, with the violations a plan in `report` mode found;
 * - `invalid`: a payload rule broken, `reason` naming it;
 * - `rejected`: its plan refuses it, with `reason` for `processing_error` (naming each
 *   violation) and `summary` for workflow history (naming nothing of the payload or the plan).
 * Both refusals are final: processing never retries them.
 */
export type Judgement =
  | { kind: 'accepted'; payload: JsonObject; violations?: Violation[] }
  | { kind: 'invalid'; reason: string }
  | { kind: 'rejected'; reason: string; summary: string; violations: Violation[] };

/** The payload rules, then `plan` (the version recorded on the event; undefined when none). */
export function judgeEvent(event: EventToJudge, plan: CompiledPlan | undefined): Judgement {
  let payload: JsonObject;
  try {
    validateRequiredFields({ eventName: event.event_name, eventType: event.event_type });
    payload = validatePayloadShape(event.payload);
  } catch (err) {
    if (!(err instanceof PayloadValidationError)) throw err;
    return { kind: 'invalid', reason: err.message };
  }
  if (!plan || event.plan_version === null) return { kind: 'accepted', payload };
  const verdict = checkAgainstPlan(plan, event.plan_version, {
    eventName: event.event_name,
    eventType: event.event_type,
    source: event.source,
    payload,
  });
  switch (verdict.kind) {
    case 'pass':
      return { kind: 'accepted', payload };
    case 'report':
      return { kind: 'accepted', payload, violations: verdict.violations };
    case 'reject':
      return {
        kind: 'rejected',
        reason: verdict.reason,
        summary: verdict.summary,
        violations: verdict.violations,
      };
  }
}

/**
 * The payload as the normalize steps take it, once `judgeEvent` accepted it in an earlier step
 * of the same run: an object, `null` as `{}`. Not checked again; the payload never changes.
 */
export function acceptedPayload(payload: unknown): JsonObject {
  return payload == null ? {} : (payload as JsonObject);
}

/**
 * Reads the events `condition` selects (with `params`) as `judgeEvent` takes them. The payload
 * travels as text and is parsed exactly: integers past 2^53 keep their digits (exact-json.ts).
 */
export async function readEventsToJudge(
  sql: Sql,
  condition: string,
  params: unknown[],
): Promise<EventToJudge[]> {
  const rows = await sql<EventToJudge & { payload: string | null }>(
    `select id, user_id, event_name, event_type, source, plan_version, payload::text as payload
       from events where ${condition}`,
    params,
  );
  return rows.map((r) => ({
    ...r,
    payload: r.payload === null ? null : parseExactly(r.payload),
    payload_chars: r.payload?.length ?? 0,
  }));
}
