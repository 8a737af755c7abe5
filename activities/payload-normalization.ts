import { ExactInteger } from '../src/json/exact-json';
import type { JsonObject } from './payload-rules';

/**
 * Type conversions applied to every value of the payload, at any depth (keys are kept verbatim,
 * so two keys can never merge into one):
 * 1. strings are Unicode NFC-normalized and trimmed of surrounding white space;
 * 2. strings that are ISO 8601 date-times with an explicit offset or `Z` become the same
 *    instant in UTC, `YYYY-MM-DDTHH:mm:ss.sssZ` (strings without an offset are left alone:
 *    their instant is unknown);
 * 3. negative zero becomes 0;
 * numbers, booleans and null are otherwise unchanged.
 */
export function normalizeValue(value: unknown): unknown {
  if (typeof value === 'string') return normalizeString(value);
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (Array.isArray(value)) return value.map(normalizeValue);
  // Integers past 2^53 (exact-json.ts) are numbers: kept as they are.
  if (value instanceof ExactInteger) return value;
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    // defineProperty, not `out[k] =`: assigning to a key named __proto__ would set the
    // prototype instead of keeping the key.
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: normalizeValue(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

const ISO_DATE_TIME_WITH_OFFSET =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function normalizeString(s: string): string {
  const t = s.normalize('NFC').trim();
  if (ISO_DATE_TIME_WITH_OFFSET.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return t;
}

/** The metadata processing attaches; it lives beside the payload, never inside it. */
export interface EventMetadata {
  userId: string;
  normalizedAt: Date;
}

/**
 * The stored `properties`: the original payload verbatim, its normalized form, and metadata.
 * Payload keys live only under `original` and `normalized`, so no key can overwrite metadata.
 */
export function buildProperties(payload: JsonObject, meta: EventMetadata): JsonObject {
  return {
    original: payload,
    normalized: normalizeValue(payload),
    normalized_at: meta.normalizedAt.toISOString(),
    user: { id: meta.userId },
  };
}
