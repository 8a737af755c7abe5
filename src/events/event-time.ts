import { isStorableDate } from './storable-date';

/**
 * When an event happened, corrected for the client's clock, as Segment, Snowplow and PostHog do:
 * - `timestamp` and `sent_at` both given: `received_at - (sent_at - timestamp)`. The client's
 *   clock may be off, but the interval between two readings of the same clock is not, so it is
 *   applied to our own clock. When that lands outside the dates an event may hold (the two
 *   readings are millennia apart, see `storable-date.ts`), neither reading is to be trusted:
 *   `received_at`;
 * - only `timestamp` given: `timestamp` as the client says;
 * - otherwise: `received_at`.
 */
export function correctedEventTime(times: {
  receivedAt: Date;
  sentAt?: Date | null;
  timestamp?: Date | null;
}): Date {
  const { receivedAt, sentAt, timestamp } = times;
  if (timestamp && sentAt) {
    const corrected = new Date(receivedAt.getTime() - (sentAt.getTime() - timestamp.getTime()));
    return isStorableDate(corrected) ? corrected : receivedAt;
  }
  return timestamp ?? receivedAt;
}
