/**
 * Length of the `varchar(255)` columns: event names and types, workflow ids, idempotency keys,
 * messageIds, subject and anonymous ids. The edge schemas refuse longer values before they
 * reach PostgreSQL, which would refuse them with an error.
 */
export const SHORT_TEXT_LENGTH = 255;
