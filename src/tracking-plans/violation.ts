/**
 * One way an event breaks its tracking plan, as stored on the event (`violations`) and shown by
 * the API: where (`payload.plan`), which JSON Schema keyword (`enum`), and ajv's message.
 */
export interface Violation {
  path: string;
  rule: string;
  message: string;
}

/** Violations kept per event; `processing_error` counts the rest. */
export const MAX_STORED_VIOLATIONS = 20;
