/**
 * `ApplicationFailure` types shared by activities (which throw them) and workflows (which
 * branch on them). Plain strings, so the workflow bundle needs nothing from Node.
 */

/** The payload breaks a shape rule: final, never retried, recorded on the event. */
export const PAYLOAD_VALIDATION_ERROR = 'PayloadValidationError';

/** The event id names no row: retrying cannot help. */
export const EVENT_NOT_FOUND_ERROR = 'EventNotFoundError';

/** A workflow gave up after its retries or its time budget; the row is marked failed first. */
export const EVENT_PROCESSING_FAILED = 'EventProcessingFailed';

export const NON_RETRYABLE_ERROR_TYPES = [PAYLOAD_VALIDATION_ERROR, EVENT_NOT_FOUND_ERROR];
