/**
 * The instants an event's dates may hold: years 0001 to 9999, UTC. Both JavaScript and
 * PostgreSQL hold far more, but not the same way: a date past 9999 is written `+010000-…` by
 * `toISOString`, which PostgreSQL does not read, and JavaScript's year 0 (1 BC) is a year
 * PostgreSQL does not have. Four-digit years are what ISO 8601 and every SDK write.
 */
export const EARLIEST_DATE = new Date('0001-01-01T00:00:00.000Z');
export const LATEST_DATE = new Date('9999-12-31T23:59:59.999Z');

/** For messages: "must be between … and …". */
export const DATE_RANGE = 'between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';

/** Whether `d` is a valid date within the range above. */
export function isStorableDate(d: Date): boolean {
  const t = d.getTime();
  return t >= EARLIEST_DATE.getTime() && t <= LATEST_DATE.getTime();
}
