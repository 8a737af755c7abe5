import type { EntityManager } from '@mikro-orm/postgresql';
import { IdempotencyKeyReusedError } from '../errors';
import { BatchSchema } from './batch.entity';
import { EventSchema } from './event.entity';
import type { NewEventRow } from './event-rows';
import type { AcceptedBatch } from './event.schemas';

/*
 * Idempotency of the REST routes: what a repeated key answers with, and the refusal of a key
 * reused with another body. (Tracking messages are kept apart, by their messageId.)
 */

/** The user's events stored under any of `keys`, by key: what a repeated request answers with. */
export async function existingByKey(em: EntityManager, userId: string, keys: string[]) {
  const found = await em.find(
    EventSchema,
    { user: userId, idempotencyKey: { $in: keys } },
    { fields: ['id', 'idempotencyKey', 'status', 'workflowId', 'requestFingerprint'] },
  );
  return new Map(found.map((e) => [e.idempotencyKey!, e]));
}

/**
 * The batch this user sent before under `key`, answered as it was: keyed events by their key
 * (some may predate that batch), keyless ones by their content among the batch's own events
 * (equal fingerprints mean equal events, so which of equal twins gets which id is moot).
 * Refuses a key sent before with other events.
 */
export async function repeatedBatch(
  em: EntityManager,
  userId: string,
  key: string,
  fingerprint: string,
  rows: NewEventRow[],
): Promise<AcceptedBatch | null> {
  const batch = await em.findOne(
    BatchSchema,
    { user: userId, idempotencyKey: key },
    { fields: ['id', 'workflowId', 'requestFingerprint'] },
  );
  if (!batch) return null;
  if (batch.requestFingerprint !== fingerprint) {
    throw new IdempotencyKeyReusedError(
      'The Idempotency-Key was used for a batch with different events; send the original batch, or a new key',
      [{ path: 'Idempotency-Key header', message: 'was used with a different body' }],
    );
  }
  const keys = rows.flatMap((r) => (r.idempotencyKey ? [r.idempotencyKey] : []));
  const keyed = keys.length > 0 ? await existingByKey(em, userId, keys) : new Map();
  const own = await em.find(
    EventSchema,
    { batch: batch.id, idempotencyKey: null },
    { fields: ['id', 'requestFingerprint'], orderBy: { id: 'asc' } },
  );
  const byContent = new Map<string | null | undefined, string[]>();
  for (const e of own)
    byContent.set(e.requestFingerprint, [...(byContent.get(e.requestFingerprint) ?? []), e.id]);
  return {
    batch_id: batch.id,
    workflow_id: batch.workflowId,
    event_ids: rows.map((r) =>
      r.idempotencyKey
        ? (keyed.get(r.idempotencyKey) as { id: string }).id
        : byContent.get(r.requestFingerprint)!.shift()!,
    ),
  };
}

/** Refuses keys whose original event had another body; rows from before fingerprints pass. */
export function refuseReusedKeys(
  rows: { idempotencyKey: string | null; requestFingerprint: string | null }[],
  existing: Map<string, { requestFingerprint?: string | null }>,
  path: (index: number) => string,
): void {
  const issues = rows.flatMap((r, i) => {
    const original = r.idempotencyKey ? existing.get(r.idempotencyKey) : undefined;
    return original?.requestFingerprint && original.requestFingerprint !== r.requestFingerprint
      ? [{ path: path(i), message: 'this idempotency key was used with a different body' }]
      : [];
  });
  if (issues.length > 0) {
    throw new IdempotencyKeyReusedError(
      'An idempotency key was reused with a different body; send the original body, or a new key',
      issues,
    );
  }
}
