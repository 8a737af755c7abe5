/** The workflow id of an event's processing: one per event, so a second start is refused. */
export const eventWorkflowId = (eventId: string): string => `event-${eventId}`;

/** The workflow id of a batch's processing. */
export const batchWorkflowId = (batchId: string): string => `batch-${batchId}`;
