import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import { batchWorkflowId } from '../temporal/workflow-ids';
import type { User } from '../users/user.entity';
import { BatchSchema, type Batch } from './batch.entity';
import { insertEvents } from './event-insert';
import { newEventRow } from './event-rows';
import type { EventStatus } from './event-status';
import type { AcceptedBatch, CreateBatchBody } from './event.schemas';
import { existingByKey, refuseReusedKeys, repeatedBatch } from './idempotency';
import type { Outbox } from './outbox';
import { batchFingerprint, eventFingerprint } from './request-fingerprint';

/** The unique constraint on a user's batch keys (migration 20261202032800). */
const BATCH_KEY_CONSTRAINT = 'batches_user_id_idempotency_key_unique';

export interface BatchServiceDeps {
  /** Starts the batch's workflow once it is committed. */
  outbox: Pick<Outbox, 'offer'>;
  /** Refuses new events while the backlog is full (see admission.ts). */
  admit: () => void;
}

/** Accepting and reading REST batches (`POST /api/v1/events/batch`, `GET /api/v1/batches/:id`). */
export function createBatchService({ outbox, admit }: BatchServiceDeps) {
  return {
    /**
     * Stores the batch and its new events in one transaction, one insert statement. Events
     * whose idempotency key this user already used resolve to the existing events. With a
     * batch-level `idempotencyKey` already used by this user, stores and starts nothing and
     * returns the original batch with `created: false` (not part of the response body).
     */
    async acceptBatch(
      em: EntityManager,
      user: User,
      body: CreateBatchBody,
      idempotencyKey?: string,
    ): Promise<{ created: number; batch: AcceptedBatch }> {
      admit();
      const receivedAt = new Date();
      const batchId = uuidv7(receivedAt.getTime());
      const workflowId = batchWorkflowId(batchId);
      const rows = body.events.map((e) =>
        newEventRow(user.id, e, { receivedAt, sentAt: body.sent_at }, { batchId }),
      );
      let fingerprint: string | null = null;
      if (idempotencyKey) {
        // A keyed batch is told from a reused key by all its events, keyed or not.
        rows.forEach((r, i) => (r.requestFingerprint ??= eventFingerprint(body.events[i]!)));
        fingerprint = batchFingerprint(rows.map((r) => r.requestFingerprint!));
      }
      const repeat = idempotencyKey
        ? () => repeatedBatch(em, user.id, idempotencyKey, fingerprint!, rows)
        : undefined;
      const original = await repeat?.();
      if (original) return { created: 0, batch: original };
      let accepted: { eventIds: string[]; inserted: Set<string> };
      try {
        accepted = await em.transactional(async (tx) => {
          await tx.insert(BatchSchema, {
            id: batchId,
            user: user.id,
            workflowId,
            eventCount: rows.length,
            idempotencyKey: idempotencyKey ?? null,
            requestFingerprint: fingerprint,
            sentAt: body.sent_at ?? null,
            receivedAt,
            createdAt: receivedAt,
          });
          const inserted = await insertEvents(tx, rows);
          const repeated = rows.filter((r) => !inserted.has(r.id));
          if (repeated.length === 0) return { eventIds: rows.map((r) => r.id), inserted };
          const existing = await existingByKey(
            tx,
            user.id,
            repeated.map((r) => r.idempotencyKey!),
          );
          refuseReusedKeys(rows, existing, (i) => `$.events.${i}.idempotency_key`);
          // Every event repeated a known key: an empty batch would name nothing, so none is
          // kept, unless the batch itself has a key, which must name it from now on.
          if (inserted.size === 0 && !idempotencyKey) {
            await tx.nativeDelete(BatchSchema, { id: batchId });
          } else {
            await tx.nativeUpdate(BatchSchema, { id: batchId }, { eventCount: inserted.size });
          }
          return {
            eventIds: rows.map((r) =>
              inserted.has(r.id) ? r.id : existing.get(r.idempotencyKey!)!.id,
            ),
            inserted,
          };
        });
      } catch (err) {
        // The same batch key committed by a concurrent request first: answer as a repeat.
        const sameKey =
          err instanceof UniqueConstraintViolationException &&
          (err as { constraint?: string }).constraint === BATCH_KEY_CONSTRAINT;
        const concurrent = sameKey ? await repeat?.() : undefined;
        if (concurrent) return { created: 0, batch: concurrent };
        throw err;
      }
      const { eventIds, inserted } = accepted;
      if (inserted.size === 0 && !idempotencyKey) {
        return { created: 0, batch: { batch_id: null, event_ids: eventIds, workflow_id: null } };
      }
      if (inserted.size > 0) outbox.offer({ kind: 'batch', id: batchId, userId: user.id });
      return {
        created: inserted.size,
        batch: { batch_id: batchId, event_ids: eventIds, workflow_id: workflowId },
      };
    },

    /** The user's own batch with its events' ids and statuses, or null. */
    async findOwnBatch(
      em: EntityManager,
      user: User,
      id: string,
    ): Promise<{ batch: Batch; events: { id: string; status: EventStatus }[] } | null> {
      const batch = await em.findOne(BatchSchema, { id, user: user.id });
      if (!batch) return null;
      // Plain rows, not entities: a batch may hold 100,000 events (BATCH_MAX_EVENTS), and
      // hydrating each into the identity map would cost far more than the query.
      const events = await em.execute<{ id: string; status: EventStatus }[]>(
        'select id, status from events where batch_id = ? order by id',
        [id],
      );
      return { batch, events };
    },
  };
}
