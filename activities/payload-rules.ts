import { ExactInteger, stringifyExactly } from '../src/json/exact-json';

/**
 * The payload shape rules; clients rely on them, so a change is a change of the API:
 * - the payload is an object, or null (which becomes `{}`);
 * - serialized as compact JSON it is at most 1 MB (1,048,576 bytes of UTF-8);
 * - it nests at most 10 levels (the payload object itself is level 1);
 * - the event has a non-empty event_name and event_type.
 */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;
export const MAX_PAYLOAD_DEPTH = 10;

/** Thrown by `validatePayloadShape` when a rule is broken; the message names the rule. */
export class PayloadValidationError extends Error {
  override readonly name = 'PayloadValidationError';
}

export type JsonObject = Record<string, unknown>;

/** Returns the payload as an object (null becomes `{}`), or throws `PayloadValidationError`. */
export function validatePayloadShape(payload: unknown): JsonObject {
  if (payload === null || payload === undefined) return {};
  if (typeof payload !== 'object' || Array.isArray(payload)) {
    throw new PayloadValidationError(`Payload must be an object, got ${describeType(payload)}`);
  }
  // Payloads are read from jsonb, so they always serialize; only their size is in question.
  if (Buffer.byteLength(stringifyExactly(payload), 'utf8') > MAX_PAYLOAD_BYTES) {
    throw new PayloadValidationError('Payload exceeds 1MB size limit');
  }
  if (nestingDepth(payload) > MAX_PAYLOAD_DEPTH) {
    throw new PayloadValidationError(`Payload exceeds max nesting depth (${MAX_PAYLOAD_DEPTH})`);
  }
  return payload as JsonObject;
}

/** Checks the required envelope fields, as the worker did for rows from any source. */
export function validateRequiredFields(event: { eventName: string; eventType: string }): void {
  const missing = (['eventName', 'eventType'] as const)
    .filter((k) => typeof event[k] !== 'string' || event[k].trim() === '')
    .map((k) => (k === 'eventName' ? 'event_name' : 'event_type'));
  if (missing.length > 0) {
    throw new PayloadValidationError(`Missing required fields: ${missing.join(', ')}`);
  }
}

/**
 * How many objects and arrays are nested on the deepest path (`{}` is 1, `{"a": []}` is 2).
 * Iterative, so a hostile payload cannot overflow the stack.
 */
export function nestingDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof ExactInteger) continue;
    const here = depth + 1;
    if (here > max) max = here;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, here]);
  }
  return max;
}

function describeType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
