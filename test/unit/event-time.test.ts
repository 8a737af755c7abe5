import { correctedEventTime } from '../../src/events/event-time';

const at = (s: string) => new Date(s);

describe('correctedEventTime', () => {
  const receivedAt = at('2025-12-18T10:00:10.000Z');

  it('applies the client-clock interval between timestamp and sent_at to received_at', () => {
    // The client clock is 1 hour fast: it says the event happened 5 s before it sent it.
    const t = correctedEventTime({
      receivedAt,
      sentAt: at('2025-12-18T11:00:09.000Z'),
      timestamp: at('2025-12-18T11:00:04.000Z'),
    });
    expect(t.toISOString()).toBe('2025-12-18T10:00:05.000Z');
  });

  it('takes timestamp as it is when sent_at is missing', () => {
    const timestamp = at('2025-12-17T08:00:00.000Z');
    expect(correctedEventTime({ receivedAt, timestamp })).toEqual(timestamp);
  });

  it('falls back to received_at without a timestamp, sent_at or not', () => {
    expect(correctedEventTime({ receivedAt })).toEqual(receivedAt);
    expect(correctedEventTime({ receivedAt, sentAt: at('2020-01-01T00:00:00Z') })).toEqual(
      receivedAt,
    );
  });
});

describe('correctedEventTime near the ends of the date range', () => {
  const receivedAt = at('2025-12-18T10:00:10.000Z');

  it('falls back to received_at when the correction would leave years 0001 to 9999', () => {
    // Each date is in range; the interval between them would put the event past year 9999.
    const t = correctedEventTime({
      receivedAt,
      sentAt: at('0001-01-01T00:00:00.000Z'),
      timestamp: at('9999-12-31T00:00:00.000Z'),
    });
    expect(t).toEqual(receivedAt);
    const early = correctedEventTime({
      receivedAt,
      sentAt: at('9999-12-31T00:00:00.000Z'),
      timestamp: at('0001-01-01T00:00:00.000Z'),
    });
    expect(early).toEqual(receivedAt);
  });

  it('keeps a correction that lands on the range itself', () => {
    const t = correctedEventTime({
      receivedAt: at('2000-01-01T00:00:00.000Z'),
      sentAt: at('2000-01-01T00:00:00.000Z'),
      timestamp: at('0001-01-01T00:00:00.000Z'),
    });
    expect(t.toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });
});
