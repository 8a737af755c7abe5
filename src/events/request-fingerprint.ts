import { createHash } from 'node:crypto';
import type { EventInput } from './event.schemas';

/**
 * SHA-256 (hex) of what an idempotency key promises: the event as validated, in canonical JSON
 * (object keys sorted, dates as ISO strings). Stored next to the key, so a key reused with
 * another body is told apart from a retry. `sent_at` is left out on purpose: it is the time
 * of sending, and a retry sends later.
 */
export function eventFingerprint(input: EventInput): string {
  return sha256(
    canonicalJson({
      event_name: input.event_name,
      event_type: input.event_type,
      payload: input.payload ?? null,
      timestamp: input.timestamp ?? null,
      idempotency_key: input.idempotency_key ?? null,
    }),
  );
}

/** A batch's fingerprint: its events' fingerprints in request order. */
export function batchFingerprint(eventFingerprints: string[]): string {
  return sha256(eventFingerprints.join('\n'));
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with object keys in code-point order at every level, so equal values hash equal. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
