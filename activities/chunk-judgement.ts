import type { EventSource } from '../src/events/event-source';
import type { Violation } from '../src/tracking-plans/violation';
import {
  type JsonObject,
  PayloadValidationError,
  validatePayloadShape,
  validateRequiredFields,
} from './payload-rules';
import type { PlanVerdict } from './plan-rules';

/** One event of a batch chunk as the batch steps read it. */
export interface ChunkRow {
  id: string;
  user_id: string;
  event_name: string;
  event_type: string;
  source: EventSource;
  plan_version: number | null;
  payload: unknown;
}

/** One event's outcome in a chunk, as `writeChunkOutcome` takes it. */
export interface ChunkResult {
  id: string;
  properties: JsonObject | null;
  error: string | null;
  violations?: Violation[];
}

/**
 * One event of a chunk against the payload rules, then against its tracking plan: the failure
 * to write (final, never retried), or the payload to normalize with the violations a plan in
 * `report` mode found.
 */
export function judge(
  row: ChunkRow,
  checkPlan: (row: ChunkRow, payload: JsonObject) => PlanVerdict,
): { failure: ChunkResult } | { payload: JsonObject; violations?: Violation[] } {
  const failure = (error: string, violations?: Violation[]) => ({
    failure: { id: row.id, properties: null, error: `validation_error: ${error}`, violations },
  });
  let payload: JsonObject;
  try {
    validateRequiredFields({ eventName: row.event_name, eventType: row.event_type });
    payload = validatePayloadShape(row.payload);
  } catch (err) {
    if (!(err instanceof PayloadValidationError)) throw err;
    return failure(err.message);
  }
  const verdict = checkPlan(row, payload);
  if (verdict.kind === 'reject') return failure(verdict.reason, verdict.violations);
  return verdict.kind === 'report' ? { payload, violations: verdict.violations } : { payload };
}
