import { randomBytes } from 'node:crypto';

/** 42 bits: rand_a (12) and the top 30 bits of rand_b, RFC 9562 section 6.2, method 1. */
const COUNTER_BITS = 42n;
const COUNTER_MAX = (1n << COUNTER_BITS) - 1n;

/** The last id's milliseconds and counter, so that the next id of this process sorts after it. */
let lastMs = -1;
let counter = 0n;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 42-bit counter, then 32 random bits.
 * Ids are made in the application because `em.insertMany` returns none, and time-ordered ids
 * keep the primary-key index append-mostly and make workflow ids sort by arrival.
 *
 * Within one process ids are strictly increasing: within one millisecond the counter goes up
 * by one (it starts each millisecond at a random value below 2^41, leaving room to count), and
 * a clock that steps back keeps the last millisecond, so listings sorted by id stay in arrival
 * order.
 */
export function uuidv7(now: number = Date.now()): string {
  const b = randomBytes(16);
  if (now > lastMs) {
    lastMs = now;
    counter = BigInt.asUintN(41, b.readBigUInt64BE(8));
  } else if (counter < COUNTER_MAX) {
    counter += 1n;
  } else {
    // 2^41 ids in one millisecond: borrow the next millisecond rather than repeat an id.
    lastMs += 1;
    counter = 0n;
  }
  b.writeUIntBE(lastMs, 0, 6);
  const c = counter;
  b[6] = 0x70 | Number((c >> 38n) & 0x0fn);
  b[7] = Number((c >> 30n) & 0xffn);
  b[8] = 0x80 | Number((c >> 24n) & 0x3fn);
  b[9] = Number((c >> 16n) & 0xffn);
  b[10] = Number((c >> 8n) & 0xffn);
  b[11] = Number(c & 0xffn);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for any canonical UUID string; used to answer 404 for malformed ids without a query. */
export const isUuid = (s: string): boolean => UUID_RE.test(s);
