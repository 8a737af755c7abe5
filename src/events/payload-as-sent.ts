/**
 * Zod copies a record key by key and deliberately drops a key named `__proto__` (against
 * prototype pollution). Payloads are data kept verbatim, so once the schema has accepted a
 * body, each payload is taken from the body as parsed (JSON.parse makes `__proto__` an
 * ordinary own key) instead of from zod's copy.
 */
export function withPayloadAsSent<T extends { payload?: Record<string, unknown> | null }>(
  parsed: T,
  sent: unknown,
): T {
  const payload = (sent as { payload?: Record<string, unknown> | null } | null)?.payload;
  return parsed.payload == null ? parsed : { ...parsed, payload: payload ?? parsed.payload };
}

/** `withPayloadAsSent` for each event of a batch, matched by position. */
export function withBatchPayloadsAsSent<T extends { events: { payload?: unknown }[] }>(
  parsed: T,
  sent: unknown,
): T {
  const events = (sent as { events?: unknown[] } | null)?.events ?? [];
  return {
    ...parsed,
    events: parsed.events.map((e, i) =>
      withPayloadAsSent(e as { payload?: Record<string, unknown> | null }, events[i]),
    ),
  };
}
