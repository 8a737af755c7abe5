import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { uuidv7 } from '../db/uuid';
import { sqlFor } from '../db/sql';
import type { Logger } from '../logger';
import { type EventWorkflowStarter } from '../temporal/event-workflows';
import { batchWorkflowId, eventWorkflowId } from '../temporal/workflow-ids';
import {
  BacklogFullError,
  EventAlreadyProcessedError,
  IdempotencyKeyReusedError,
  ServiceUnavailableError,
} from '../errors';
import type { GroupCommit } from './group-commit';
import type { Outbox } from './outbox';
import type { User } from '../users/user.entity';
import { BatchSchema, type Batch } from './batch.entity';
import { insertEvents } from './event-insert';
import { listEvents } from './event-list';
import { markReceivedAgain } from './event-transitions';
import { EventSchema, type Event } from './event.entity';
import type { EventStatus } from './event-status';
import { newEventRow, type NewEventRow } from './event-rows';
import type {
  AcceptedBatch,
  AcceptedEvent,
  CreateBatchBody,
  CreateEventBody,
  ListEventsQuery,
} from './event.schemas';
import { batchFingerprint, eventFingerprint } from './request-fingerprint';

/** An event with its payload and properties as the JSON text PostgreSQL holds. */
export interface StoredEvent {
  event: Event;
  payloadJson: string | null;
  propertiesJson: string | null;
}

/** The unique constraint on a user's batch keys (migration 20261202032800). */
const BATCH_KEY_CONSTRAINT = 'batches_user_id_idempotency_key_unique';
/**
 * How long reprocess waits for a failed event's run to close before starting a new one: one
 * long poll for the run's close event, never a series of describes.
 */
const CLOSING_RUN_WAIT_MS = 5_000;

export interface EventServiceDeps {
  /** Stores single events of concurrent requests together (see group-commit.ts). */
  inserts: GroupCommit;
  /** Starts the workflows of committed rows, after the answer. */
  outbox: Pick<Outbox, 'offer' | 'stats'>;
  /** Whether a workflow is running: reprocess asks before it starts a run of its own. */
  workflows: Pick<EventWorkflowStarter, 'isRunning'>;
  logger: Logger;
  /** Stored-but-unstarted events beyond which new ones are refused for now; 0 = no bound. */
  maxBacklog: number;
  /** statement_timeout of the listing (see `event-list.ts`); 0 = none. */
  listStatementTimeoutMs?: number;
}

/**
 * Accepting and reading events; HTTP-agnostic, so routes stay thin. A request's rows are
 * committed and answered `received`; their workflows start right after, off the request path
 * (see `outbox.ts`). The row is the source of truth and PostgreSQL the durable queue: whatever
 * happens to the process after the commit, the outbox's sweep starts what is left.
 */
export function createEventService({
  inserts,
  outbox,
  maxBacklog,
  workflows,
  logger,
  listStatementTimeoutMs = 0,
}: EventServiceDeps) {
  /** Refuses new events while more are stored than can be processed in reasonable time. */
  function admit(): void {
    if (maxBacklog === 0) return;
    const { unstarted, startRate } = outbox.stats();
    if (unstarted < maxBacklog) return;
    const retryAfterSec = Math.min(
      60,
      Math.max(1, Math.ceil((unstarted - maxBacklog + 1) / Math.max(1, startRate))),
    );
    throw new BacklogFullError(unstarted, retryAfterSec);
  }

  /** Inserts rows, skipping those whose idempotency key the user already used; returns new ids. */
  async function existingByKey(em: EntityManager, userId: string, keys: string[]) {
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
  async function repeatedBatch(
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
  function refuseReusedKeys(
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

  return {
    admit,

    /**
     * Accepts one event. With an idempotency key already used by this user, stores nothing,
     * starts nothing, and returns the original event with `created: false`.
     */
    async accept(
      em: EntityManager,
      user: User,
      body: CreateEventBody,
    ): Promise<{ created: boolean; event: AcceptedEvent }> {
      admit();
      const row = newEventRow(user.id, body, { receivedAt: new Date(), sentAt: body.sent_at });
      const inserted = await inserts.insert([row]);
      if (!inserted.has(row.id)) {
        const existing = await existingByKey(em, user.id, [row.idempotencyKey!]);
        refuseReusedKeys([row], existing, () => '$.idempotency_key');
        const original = existing.get(row.idempotencyKey!)!;
        return {
          created: false,
          event: {
            event_id: original.id,
            workflow_id: original.workflowId ?? null,
            status: original.status,
          },
        };
      }
      outbox.offer({
        kind: 'event',
        id: row.id,
        userId: user.id,
        eventName: row.eventName,
        eventType: row.eventType,
      });
      return {
        created: true,
        event: { event_id: row.id, workflow_id: row.workflowId, status: 'received' },
      };
    },

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

    /** The user's events, newest first (ids are time-ordered), one page after `cursor`. */
    list: (em: EntityManager, user: User, query: ListEventsQuery) =>
      listEvents(em, user, query, listStatementTimeoutMs),

    /**
     * Starts a new processing run of an event that has none: a failed one, after a fix, or one
     * left `queued` or `processing` by a run that was terminated, timed out or lost (nothing
     * else would ever move it on). Idempotent while a run is going on or about to: the call
     * reports that run and starts nothing. A `received` event is the outbox's, which starts it
     * (again, if its run ended before it was marked queued). The run gets the event's own workflow id, so
     * Temporal keeps earlier runs of it visible beside the new one.
     */
    async reprocess(
      em: EntityManager,
      user: User,
      id: string,
    ): Promise<{ started: boolean; event: AcceptedEvent } | null> {
      const event = await em.findOne(
        EventSchema,
        { id, user: user.id },
        { exclude: ['payload', 'properties'] },
      );
      if (!event) return null;
      if (event.status === 'processed') throw new EventAlreadyProcessedError(id);
      const workflowId = eventWorkflowId(id);
      // Only Temporal knows whether an unfinished event's run is still alive. The status seen
      // here guards the claim, and Temporal refuses a second start of the same workflow id,
      // so concurrent calls start one run between them.
      // A failed event's run marks it failed as its last step and closes right after: a new
      // start before that would be refused as a duplicate of the closing run, and the event
      // left queued. So the closing run is waited for, briefly. Either way a request makes at
      // most two calls to Temporal (a describe, and that one long poll).
      const ranAs = event.workflowId ?? null;
      const runGone =
        event.status !== 'received' &&
        (ranAs === null ||
          !(await workflows
            .isRunning(ranAs, event.status === 'failed' ? CLOSING_RUN_WAIT_MS : 0)
            .catch((err: unknown) => {
              logger.warn({ err, workflow_id: event.workflowId }, 'could not describe workflow');
              throw new ServiceUnavailableError(
                'Temporal cannot tell whether the event is being processed; retry later',
              );
            })));
      const claimed =
        runGone && (await markReceivedAgain(sqlFor(em), id, event.status, workflowId));
      if (!claimed) {
        // Its run is still going on, or another call just claimed the event.
        const current = await em.findOneOrFail(
          EventSchema,
          { id },
          { fields: ['status', 'workflowId'] },
        );
        return {
          started: false,
          event: { event_id: id, workflow_id: current.workflowId ?? null, status: current.status },
        };
      }
      outbox.offer({
        kind: 'event',
        id,
        userId: user.id,
        eventName: event.eventName,
        eventType: event.eventType,
      });
      return {
        started: true,
        event: { event_id: id, workflow_id: workflowId, status: 'received' },
      };
    },

    /**
     * The user's own event, or null: other users' events are indistinguishable from none. The
     * payload and properties come as jsonb's text, which holds every digit that was stored.
     */
    async findOwn(em: EntityManager, user: User, id: string): Promise<StoredEvent | null> {
      const [row] = await em.execute<Record<string, unknown>[]>(
        `select e.*, e.payload::text as payload_text, e.properties::text as properties_text
           from events e where e.id = ? and e.user_id = ?`,
        [id, user.id],
      );
      if (!row) return null;
      const { payload_text, properties_text, ...columns } = row;
      return {
        event: em.map(EventSchema, columns),
        payloadJson: (payload_text as string | null) ?? null,
        propertiesJson: (properties_text as string | null) ?? null,
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

export type EventService = ReturnType<typeof createEventService>;
