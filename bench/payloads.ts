/** The body of one event as the bench sends it: about 200 bytes of payload, varied per index. */
export function eventInput(i: number): {
  event_name: string;
  event_type: string;
  payload: Record<string, unknown>;
} {
  return {
    event_name: i % 3 === 0 ? 'page_view' : i % 3 === 1 ? 'add_to_cart' : 'checkout_started',
    event_type: 'engagement',
    payload: {
      page: `/products/${100_000 + (i % 900_000)}`,
      duration: (i * 37) % 600,
      referrer: 'https://example.com/search?q=shoes',
      // An offset date-time, so normalization has real work to do.
      occurred_at: '2025-12-18T12:30:00+02:00',
      session: { id: `s-${(i * 7919) % 1_000_003}`, new_visitor: i % 2 === 0 },
      tags: ['  summer-sale ', 'mobile'],
    },
  };
}

/** Size in bytes of the payload above, as compact JSON, for the report. */
export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(eventInput(123_456).payload));
