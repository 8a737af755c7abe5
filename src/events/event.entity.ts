import { defineEntity, type InferEntity, type Opt, type Ref } from '@mikro-orm/core';
import { UserSchema } from '../users/user.entity';
import { BatchSchema } from './batch.entity';
import type { Violation } from '../tracking-plans/violation';
import { EVENT_SOURCES } from './event-source';
import { EVENT_STATUSES } from './event-status';
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

/** One product event as accepted over HTTP, and what processing made of it. */
export const EventSchema = defineEntity({
  name: 'Event',
  tableName: 'events',
  properties: (p) => ({
    id: p.uuid().primary(),
    user: p.manyToOne(UserSchema).ref(),
    eventName: p.string().length(SHORT_TEXT_LENGTH),
    eventType: p.string().length(SHORT_TEXT_LENGTH),
    /** What the client sent, verbatim. */
    payload: p.json<unknown>().nullable(),
    /** The normalized payload with metadata; set by processing. */
    properties: p.json<Record<string, unknown>>().nullable(),
    status: p.enum([...EVENT_STATUSES]).default('received'),
    processed: p.boolean().default(false),
    processedAt: p.datetime().columnType('timestamptz').nullable(),
    processingError: p.text().nullable(),
    /** Workflow runs that picked the event up (reprocessing adds one). */
    attempts: p.integer().default(0),
    /** The run that last counted an attempt, so retried steps do not count twice. */
    lastRunId: p.string().length(64).nullable(),
    /** The latest failure's error; kept when a later attempt succeeds. */
    lastError: p.text().nullable(),
    /** Null while a tracking message waits for the relay to put it in a group. */
    workflowId: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    batch: p.manyToOne(BatchSchema).ref().nullable(),
    /** Client-chosen; per user it names at most one event, forever. */
    idempotencyKey: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    /** An analytics SDK's messageId: per user it names one message, in a key space of its own. */
    messageId: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    /** Who the event is about by the sender's id for them (an analytics SDK's `userId`). */
    subjectUserId: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    /** Who the event is about before they are known (an analytics SDK's `anonymousId`). */
    anonymousId: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    /** Who sent it (see `event-source.ts`). */
    source: p.enum([...EVENT_SOURCES]).default('api'),
    /** The tracking plan version the event is checked against; null: its user had none. */
    planVersion: p.integer().nullable(),
    /** What the event broke of its tracking plan; null when nothing. */
    violations: p.json<Violation[]>().nullable(),
    /** SHA-256 of the event as accepted (see `request-fingerprint.ts`); null before it existed. */
    requestFingerprint: p.string().length(64).nullable(),
    /** When the event happened, by the client's clock (`timestamp` in the API). */
    clientTimestamp: p.datetime().columnType('timestamptz').nullable(),
    /** The client's clock when it sent the request. */
    sentAt: p.datetime().columnType('timestamptz').nullable(),
    /** The server's clock when the request arrived. */
    receivedAt: p.datetime().columnType('timestamptz'),
    /** When the event happened, corrected for client clock skew (see `event-time.ts`). */
    eventTime: p.datetime().columnType('timestamptz'),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  }),
});

export type Event = InferEntity<typeof EventSchema>;

/** A column's value as PostgreSQL holds it: a reference as its id, an absent value as null. */
type ColumnValue<T> = [T] extends [Ref<object>]
  ? string
  : [T] extends [Ref<object> | null | undefined]
    ? string | null
    : T extends Opt<infer U>
      ? U
      : undefined extends T
        ? Exclude<T, undefined> | null
        : T;

/** An event's columns as plain values, in entity property names: what inserts and reads carry. */
export type EventRow = { [K in keyof Event & string]-?: ColumnValue<Event[K]> };

/**
 * What processing sets, never the insert (the plan version is the insert's own subquery: the
 * plan in force when the row goes in).
 */
export const SET_BY_PROCESSING = [
  'properties',
  'processedAt',
  'attempts',
  'lastRunId',
  'planVersion',
  'violations',
] as const satisfies readonly (keyof Event)[];
